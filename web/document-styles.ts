// Rules a component needs in the document itself, not only in its shadow root: asciinema-player
// measures its character cell in document.body, and xterm.js's rules were linked page-wide too.
// They used to be <link>ed from index.html on every page; now a component's chunk adopts them when
// it loads, so the lab list downloads neither (their text is in the chunk already, for the shadow root).
const adopted = new Set<string>();

/** Adds the CSS text to the document's adopted style sheets, once. */
export function adoptDocumentStyles(cssText: string): void {
  if (adopted.has(cssText)) return;
  adopted.add(cssText);
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(cssText);
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
}
