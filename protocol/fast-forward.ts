// Skipping most of a plain-text flood, with the same screen and scrollback as parsing it all.
// Used where a terminal is behind its output: the server's screen mirrors (mirror-worker.ts) and
// the page's terminal (web/terminal/connection.ts) when output has queued up while it was parsing.
//
// A terminal shows its last `scrollback` lines and the screen. In a flood of plain lines (`yes`,
// `cat big.log`) almost all of what arrives scrolls out of that before anyone sees it, yet parsing
// it is the whole cost: about 0.5 s of CPU per 16 MiB for a mirror, more in a page that also draws.
// When output has queued up, it is looked at whole:
//
//   [ prefix: plain, ending in CR LF ][ plain, with scrollback + rows LFs ][ anything ]
//   (plain: printable ASCII, CR and LF)
//
// Parsing the prefix changes only the cells it writes and the cursor: no attribute, mode, charset
// or margin changes (no escape sequences), and the cursor ends in column 0 of the bottom row
// (it held at least `rows` LFs). The plain run after it scrolls at each LF (nothing moves the
// cursor up), pushing every row the prefix wrote out of the scrollback. So writing CR, `rows` LFs
// (the cursor where the prefix would leave it) and the rest gives the same buffer, provided the
// terminal was in a state where this reasoning holds: the parser in its ground state (not in the
// middle of an escape sequence the prefix would continue), default scroll margins, and no origin
// mode. Anything else is parsed whole.

/**
 * The first byte that is not plain (printable ASCII, CR, LF). A regular expression over the bytes
 * as a one-byte string runs as native code: several times faster than a loop over a 2 MiB batch.
 * (The "latin1" decoder is windows-1252 in browsers: bytes 0x80-0x9f become other characters, none
 * of them plain either.)
 */
const NOT_PLAIN = /[^\x20-\x7e\r\n]/;
const bytesAsText = new TextDecoder('latin1');
/** Node and the browser both have it; protocol/ compiles with neither's types. */
declare const TextDecoder: new (label: string) => { decode(data: Uint8Array): string };

const LF = 0x0a;
const CR = 0x0d;

/**
 * How many leading bytes of `data` may be skipped (replaced by CR and `rows` LFs) on a terminal of
 * `rows` rows keeping `scrollback` lines, in a state where the skip is sound (see above); 0 when
 * none may. Only the plain start of `data` is used: the skipped prefix and the `scrollback + rows`
 * LFs after it must all be plain, so that each of those LFs scrolls (nothing moves the cursor up)
 * and every row the prefix wrote is gone before anything else is parsed.
 */
export function skippablePrefix(data: Uint8Array, rows: number, scrollback: number): number {
  const needed = scrollback + rows;
  // Too short to hold the LFs (each line at least CR LF): most writes of a mirror that keeps up. Or
  // too few LFs at all: most pieces of a flood of long lines (at 100 columns, 500 KiB must queue
  // before anything can be skipped), which the page and the mirror look at piece by piece. Counting
  // costs a fifth of decoding and searching the whole piece (0.08 against 0.4 ms per 128 KiB in
  // Node), which took 75-80 ms of the page and of the mirror's thread per 16 MiB.
  if (!couldSkip(data, rows, scrollback)) return 0;
  const text = bytesAsText.decode(data);
  const found = text.search(NOT_PLAIN);
  const plainEnd = found < 0 ? data.length : found;
  // The first of the last `needed` LFs of the plain part begins the suffix's run of scrolls; the
  // prefix ends at the LF before it, which must follow a CR (the cursor then in column 0) and
  // holds at least `rows` LFs of its own.
  let at = plainEnd;
  for (let n = 0; n < needed; n++) {
    at = lfBefore(data, at);
    if (at < 0) return 0;
  }
  const end = lfBefore(data, at);
  if (end < 1 || data[end - 1] !== CR) return 0;
  let prefixLfs = 1;
  for (let lf = lfBefore(data, end); lf >= 0 && prefixLfs < rows; lf = lfBefore(data, lf)) prefixLfs++;
  return prefixLfs >= rows ? end + 1 : 0;
}

/** Whether `data` holds as many LFs as skippablePrefix needs to skip any of it (a cheap first test). */
export function couldSkip(data: Uint8Array, rows: number, scrollback: number): boolean {
  const lfs = scrollback + 2 * rows;
  return data.length >= 2 * lfs && hasLineFeeds(data, lfs);
}

/** Whether `data` holds at least `n` LFs (lastIndexOf is native: twice as fast as a loop here). */
function hasLineFeeds(data: Uint8Array, n: number): boolean {
  let at = data.length;
  for (let left = n; left > 0; left--) {
    at = lfBefore(data, at);
    if (at < 0) return false;
  }
  return true;
}

/** The last LF before `pos`, or -1 (lastIndexOf would count a negative start from the end). */
function lfBefore(data: Uint8Array, pos: number): number {
  return pos > 0 ? data.lastIndexOf(LF, pos - 1) : -1;
}

/** What the skip needs to know about a terminal (xterm.js internals, read defensively). */
export interface SkipState {
  rows: number;
  /** The parser is in its ground state (not inside an escape sequence). */
  ground: boolean;
  /** Scroll margins are the whole screen and origin mode is off. */
  defaultMargins: boolean;
}

interface XtermInternals {
  rows: number;
  modes: { originMode: boolean };
  _core?: {
    _inputHandler?: { _parser?: { currentState?: unknown } };
    buffer?: { scrollTop?: unknown; scrollBottom?: unknown };
  };
}

/**
 * The state of an xterm.js Terminal (@xterm/headless or @xterm/xterm), from its internals;
 * anything not found as expected (a later xterm.js that moved them) reads as "do not skip", and
 * test/protocol/fast-forward.test.ts fails so that it is noticed.
 */
export function skipState(term: XtermInternals): SkipState {
  const core = term._core;
  const parserState = core?._inputHandler?._parser?.currentState;
  const buffer = core?.buffer;
  return {
    rows: term.rows,
    ground: parserState === 0,
    defaultMargins: buffer?.scrollTop === 0 && buffer?.scrollBottom === term.rows - 1 && !term.modes.originMode,
  };
}

/**
 * The bytes to write instead of `data` for the same screen: `data` itself, or CR, `rows` LFs and
 * the suffix. Returns how many bytes were skipped too (0 when `data` goes whole).
 */
export function fastForward(data: Uint8Array, state: SkipState, scrollback: number): { write: Uint8Array; skipped: number } {
  if (!state.ground || !state.defaultMargins) return { write: data, skipped: 0 };
  const cut = skippablePrefix(data, state.rows, scrollback);
  if (cut === 0) return { write: data, skipped: 0 };
  const suffix = data.subarray(cut);
  const write = new Uint8Array(1 + state.rows + suffix.length);
  write[0] = CR;
  write.fill(LF, 1, 1 + state.rows);
  write.set(suffix, 1 + state.rows);
  return { write, skipped: cut };
}
