// One xterm.js Terminal in a container: addons, fitting to the container, links and clipboard keys.
import { FitAddon } from '@xterm/addon-fit';
import { Unicode11Addon } from '@xterm/addon-unicode11';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { Terminal, type ITerminalOptions } from '@xterm/xterm';
import { MAX_COLS, MAX_ROWS } from '../../protocol/messages.js';
import { Disposable, toDisposable } from '../lifecycle.js';
import { TERMINAL_FONT, TERMINAL_THEME } from './theme.js';

// The colours and font live in theme.ts (the player uses them without xterm.js); still exported from here.
export { TERMINAL_FONT, TERMINAL_THEME };

/** Opens http(s) links in a new tab that cannot reach back to this page. */
export function openLink(uri: string): void {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return;
  window.open(url.href, '_blank', 'noopener,noreferrer');
}

function isShortcut(ev: KeyboardEvent, code: string): boolean {
  return ev.ctrlKey && ev.shiftKey && !ev.altKey && !ev.metaKey && ev.code === code;
}

export class TerminalView extends Disposable {
  readonly term: Terminal;
  private readonly fitAddon = new FitAddon();
  private fitFrame = 0;

  constructor(private readonly container: HTMLElement, options: ITerminalOptions = {}) {
    super();
    this.term = this.register(new Terminal({
      allowProposedApi: true, // term.unicode (Unicode11Addon) is a proposed API
      // A steady cursor, as VS Code's terminal by default: xterm.js blinks it with a CSS animation,
      // which restyles the page 60 times a second for as long as the tab is open (an idle lab page
      // spent 30 ms of every second on it, against 4 without: a keystroke's echo could wait behind it).
      cursorBlink: false,
      fontFamily: TERMINAL_FONT,
      fontSize: 14,
      lineHeight: 1.15,
      scrollback: 5000,
      theme: TERMINAL_THEME,
      // OSC 8 hyperlinks open like plain-text links do.
      linkHandler: { activate: (_ev, uri) => openLink(uri), allowNonHttpProtocols: false },
      ...options,
    }));
    this.term.loadAddon(this.fitAddon);
    this.term.loadAddon(new WebLinksAddon((_ev, uri) => openLink(uri)));
    this.term.loadAddon(new Unicode11Addon());
    this.term.unicode.activeVersion = '11';
    this.term.attachCustomKeyEventHandler((ev) => this.onKey(ev));
    this.term.open(container);

    // The container resizes with the viewport too, so one observer covers both.
    const observer = new ResizeObserver(() => this.scheduleFit());
    observer.observe(container);
    this.register(toDisposable(() => observer.disconnect()));
    this.register(toDisposable(() => cancelAnimationFrame(this.fitFrame)));
    this.fit();
  }

  /** Sizes the terminal to its container (within the protocol's limits); resize events follow. */
  fit(): void {
    if (this.isDisposed || !this.container.isConnected) return;
    if (this.container.clientWidth === 0 || this.container.clientHeight === 0) return;
    const dims = this.fitAddon.proposeDimensions();
    if (!dims || !Number.isFinite(dims.cols) || !Number.isFinite(dims.rows)) return;
    const cols = Math.min(MAX_COLS, Math.max(2, dims.cols));
    const rows = Math.min(MAX_ROWS, Math.max(1, dims.rows));
    if (cols !== this.term.cols || rows !== this.term.rows) this.term.resize(cols, rows);
  }

  focus(): void {
    this.term.focus();
  }

  /** Copies the selection to the clipboard; false when nothing is selected. */
  copySelection(): boolean {
    if (!this.term.hasSelection()) return false;
    const text = this.term.getSelection();
    if (navigator.clipboard?.writeText) {
      navigator.clipboard.writeText(text).catch(() => this.copyWithCommand());
    } else {
      this.copyWithCommand();
    }
    return true;
  }

  private scheduleFit(): void {
    cancelAnimationFrame(this.fitFrame);
    this.fitFrame = requestAnimationFrame(() => this.fit());
  }

  /** Without the async clipboard (plain http on a LAN): xterm.js answers the copy event itself. */
  private copyWithCommand(): void {
    this.term.focus();
    document.execCommand('copy');
  }

  private onKey(ev: KeyboardEvent): boolean {
    if (isShortcut(ev, 'KeyC')) {
      if (ev.type === 'keydown') {
        this.copySelection();
        ev.preventDefault();
      }
      return false;
    }
    if (isShortcut(ev, 'KeyV')) {
      // Keep xterm.js from sending ^V and let the browser paste: its paste event reaches xterm.js,
      // which sends the text (bracketed when the shell asked), with no clipboard permission needed.
      return false;
    }
    return true;
  }
}
