// A server-side copy of a terminal's screen (@xterm/headless), so that a fresh page gets the screen
// as it was, with scrollback, even after more output than the OutputLog holds. The copy is parsed
// on a thread of its own (mirror-thread.ts); here are the offsets, for flow control and snapshots.
import { mirrorThreads, type MirrorChannel, type MirrorPeer, type MirrorThreads } from './mirror-thread.js';

export class ScreenMirror implements MirrorPeer {
  private channel: MirrorChannel;
  /** Offset just past the last byte the thread has parsed. */
  private parsed = 0;
  /** Offset just past the last byte handed to the thread. */
  private queued = 0;
  /** Where the thread's own count (from its mirror's open) starts in this stream's offsets. */
  private base = 0;
  private cols: number;
  private rows: number;
  private readonly drainWaiters: Array<() => void> = [];
  private readonly snapshots = new Map<number, (snap: { data: string; offset: number }) => void>();
  private nextRequest = 1;
  private disposed = false;
  /** Whether this mirror holds its thread (and so the process) up for someone waiting. */
  private holding = false;

  /** `onParsed` runs whenever parsing catches up a little: flow control re-checks then. */
  constructor(cols: number, rows: number, readonly scrollback: number, private readonly onParsed: () => void = () => {},
    private readonly threads: MirrorThreads = mirrorThreads()) {
    this.cols = cols;
    this.rows = rows;
    this.channel = threads.open(this, cols, rows, scrollback);
  }

  /** Bytes handed over but not parsed yet: the shell is paused while this is high. */
  get pending(): number { return this.queued - this.parsed; }
  get parsedOffset(): number { return this.parsed; }

  /** The stream's offsets start at `offset` (an adopted shell, output-log.ts continueFrom): the screen before it is not known here. */
  continueFrom(offset: number): void {
    this.base = this.parsed = this.queued = offset;
  }

  write(chunk: Uint8Array): void {
    if (this.disposed) return;
    this.queued += chunk.byteLength;
    this.channel.write(chunk);
  }

  resize(cols: number, rows: number): void {
    this.cols = cols;
    this.rows = rows;
    if (!this.disposed) this.channel.resize(cols, rows);
  }

  /** Resolves once everything written so far is parsed. */
  drained(): Promise<void> {
    if (this.parsed === this.queued) return Promise.resolve();
    this.hold();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** The screen with scrollback as escape sequences, and the output offset it reflects. */
  snapshot(): Promise<{ data: string; offset: number }> {
    if (this.disposed) return Promise.resolve({ data: '', offset: this.queued });
    const request = this.nextRequest++;
    this.hold();
    this.channel.snapshot(request);
    return new Promise((resolve) => this.snapshots.set(request, resolve));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.channel.close();
    this.settle();
  }

  // MirrorPeer: what the thread says.

  parsedUpTo(bytes: number): void {
    this.parsed = this.base + bytes;
    this.onParsed();
    if (this.parsed === this.queued) this.drainWaiters.splice(0).forEach((f) => f());
    this.releaseIfIdle();
  }

  snapshotReady(request: number, data: string, bytes: number): void {
    const resolve = this.snapshots.get(request);
    this.snapshots.delete(request);
    resolve?.({ data, offset: this.base + bytes });
    this.releaseIfIdle();
  }

  lost(): void {
    if (this.disposed) return;
    // What was handed over is gone with the thread; the new copy starts from here, empty.
    this.holding = false;
    this.settle();
    this.base = this.queued;
    this.parsed = this.queued;
    this.channel = this.threads.open(this, this.cols, this.rows, this.scrollback);
    this.onParsed();
  }

  /** Nobody waits on a mirror that is gone or starts over: empty snapshots, drained. */
  private settle(): void {
    for (const resolve of this.snapshots.values()) resolve({ data: '', offset: this.queued });
    this.snapshots.clear();
    this.parsed = this.queued;
    this.drainWaiters.splice(0).forEach((f) => f());
    this.releaseIfIdle();
  }

  private hold(): void {
    if (this.holding) return;
    this.holding = true;
    this.channel.hold();
  }

  private releaseIfIdle(): void {
    if (!this.holding || this.snapshots.size > 0 || this.drainWaiters.length > 0) return;
    this.holding = false;
    this.channel.release();
  }
}
