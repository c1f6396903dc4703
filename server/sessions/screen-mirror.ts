// A server-side copy of a terminal's screen (@xterm/headless), so that a fresh page gets the screen
// as it was, with scrollback, even after more output than the OutputLog holds.
import headless from '@xterm/headless';
import serialize from '@xterm/addon-serialize';

const { Terminal } = headless;
const { SerializeAddon } = serialize;

export class ScreenMirror {
  private readonly term: InstanceType<typeof Terminal>;
  private readonly serializer = new SerializeAddon();
  /** Offset just past the last byte the mirror has parsed. */
  private parsed = 0;
  /** Offset just past the last byte handed to the mirror. */
  private queued = 0;
  private readonly drainWaiters: Array<() => void> = [];

  /** `onParsed` runs whenever parsing catches up a little: flow control re-checks then. */
  constructor(cols: number, rows: number, readonly scrollback: number, private readonly onParsed: () => void = () => {}) {
    this.term = new Terminal({ cols, rows, scrollback, allowProposedApi: true });
    this.term.loadAddon(this.serializer as never);
  }

  /** Bytes handed over but not parsed yet: the shell is paused while this is high. */
  get pending(): number { return this.queued - this.parsed; }
  get parsedOffset(): number { return this.parsed; }

  write(chunk: Uint8Array): void {
    this.queued += chunk.byteLength;
    const end = this.queued;
    this.term.write(chunk, () => {
      this.parsed = end;
      this.onParsed();
      if (this.parsed === this.queued) this.drainWaiters.splice(0).forEach((f) => f());
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
    this.drainWaiters.splice(0).forEach((f) => f());
    this.term.dispose();
  }
}
