// scripts/build-web.mjs loads .css imports as text (for the components' shadow roots).
declare module '*.css' {
  const text: string;
  export default text;
}
