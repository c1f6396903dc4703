// The terminal's colours and font, apart from terminal-view.ts so that the player (which uses the
// same colours) does not pull xterm.js into its chunk.
import type { ITheme } from '@xterm/xterm';

/** Dark palette with enough contrast for every ANSI colour on the background. */
export const TERMINAL_THEME: ITheme = {
  background: '#0d1117',
  foreground: '#e6edf3',
  cursor: '#58a6ff',
  cursorAccent: '#0d1117',
  selectionBackground: '#264f78',
  selectionInactiveBackground: '#1f3a56',
  scrollbarSliderBackground: 'rgba(110, 118, 129, 0.35)',
  scrollbarSliderHoverBackground: 'rgba(110, 118, 129, 0.55)',
  scrollbarSliderActiveBackground: 'rgba(110, 118, 129, 0.7)',
  black: '#484f58',
  red: '#ff7b72',
  green: '#3fb950',
  yellow: '#d29922',
  blue: '#58a6ff',
  magenta: '#bc8cff',
  cyan: '#39c5cf',
  white: '#b1bac4',
  brightBlack: '#6e7681',
  brightRed: '#ffa198',
  brightGreen: '#56d364',
  brightYellow: '#e3b341',
  brightBlue: '#79c0ff',
  brightMagenta: '#d2a8ff',
  brightCyan: '#56d4dd',
  brightWhite: '#ffffff',
};

export const TERMINAL_FONT = '"JetBrains Mono", "Cascadia Mono", "Fira Code", "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace';
