// A server-side copy of a terminal's screen (@xterm/headless), so that a fresh page gets the screen
// as it was, with scrollback, even after more output than the OutputLog holds.
import headless from '@xterm/headless';
import serialize from '@xterm/addon-serialize';
import { othersTyping } from './typing.js';

const { Terminal } = headless;
const { SerializeAddon } = serialize;

/**
 * Bytes handed to xterm at a time. xterm parses what it holds in slices of up to 12 ms before it
 * yields, and the server's one event loop is shared by every session: a terminal flooding output
 * would hold every other learner's keystrokes for that long, again and again. So while someone
 * else types (typing.ts) the mirror hands xterm 2 KiB at a time, well under a millisecond of
 * parsing, and yields after each; when the mirror lags, flow control pauses the shell
 * (TerminalStream). While nobody else types, a flood gets large slices and full speed.
 */
const SLICE_BYTES = 64 * 1024;
const SLICE_BYTES_WHILE_OTHERS_TYPE = 2 * 1024;

export class ScreenMirror {
  private readonly term: InstanceType<typeof Terminal>;
  private readonly serializer = new SerializeAddon();
  /** Offset just past the last byte the mirror has parsed. */
  private parsed = 0;
  /** Offset just past the last byte handed to the mirror. */
  private queued = 0;
  private readonly drainWaiters: Array<() => void> = [];
  /** Chunks not yet handed to xterm, and whether a slice is in xterm's hands now. */
  private readonly backlog: Uint8Array[] = [];
  private parsing = false;
  private disposed = false;

  /** `onParsed` runs whenever parsing catches up a little: flow control re-checks then. */
  /** `owner`: the terminal this mirrors (its own typing does not slow it, see typing.ts). */
  constructor(cols: number, rows: number, readonly scrollback: number, private readonly onParsed: () => void = () => {},
    private readonly owner: object = {}) {
    this.term = new Terminal({ cols, rows, scrollback, allowProposedApi: true });
    this.term.loadAddon(this.serializer as never);
  }

  /** Bytes handed over but not parsed yet: the shell is paused while this is high. */
  get pending(): number { return this.queued - this.parsed; }
  get parsedOffset(): number { return this.parsed; }

  write(chunk: Uint8Array): void {
    this.queued += chunk.byteLength;
    this.backlog.push(chunk);
    if (!this.parsing) this.pump();
  }

  /**
   * Hands xterm the next slice of the backlog, joined from as many chunks as fit; the next one
   * goes when xterm has parsed it. Joined, because each write waits for xterm's own timer (a
   * setTimeout: a millisecond at least) before it is parsed: fed the pty's reads one by one, 4 KiB
   * each, the mirror parsed 3 MiB/s and held the whole terminal to that pace.
   */
  private pump(): void {
    if (this.backlog.length === 0 || this.disposed) { this.parsing = false; return; }
    const max = othersTyping(this.owner) ? SLICE_BYTES_WHILE_OTHERS_TYPE : SLICE_BYTES;
    const parts: Uint8Array[] = [];
    let size = 0;
    while (this.backlog.length > 0 && size < max) {
      const head = this.backlog[0]!;
      const take = Math.min(head.byteLength, max - size);
      parts.push(take === head.byteLength ? head : head.subarray(0, take));
      if (take === head.byteLength) this.backlog.shift();
      else this.backlog[0] = head.subarray(take);
      size += take;
    }
    const slice = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    this.parsing = true;
    this.term.write(slice, () => {
      this.parsed += slice.byteLength;
      this.onParsed();
      if (this.parsed === this.queued) this.drainWaiters.splice(0).forEach((f) => f());
      // Not from inside this callback: xterm would parse the next slice in the same turn.
      setImmediate(() => this.pump());
    });
  }

  resize(cols: number, rows: number): void {
    this.term.resize(cols, rows);
  }

  /** Resolves once everything written so far is parsed. */
  drained(): Promise<void> {
    if (this.parsed === this.queued) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** The screen with scrollback as escape sequences, and the output offset it reflects. */
  snapshot(): { data: string; offset: number } {
    return { data: this.serializer.serialize({ scrollback: this.scrollback }), offset: this.parsed };
  }

  dispose(): void {
    this.disposed = true;
    this.backlog.length = 0;
    this.drainWaiters.splice(0).forEach((f) => f());
    this.term.dispose();
  }
}
