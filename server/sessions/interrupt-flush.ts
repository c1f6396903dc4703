// Ctrl-C during a flood: what the interrupted command had already printed is skipped, up to the
// shell's next prompt, as a terminal's own line discipline does (an INTR flushes the tty's output
// queue). Without it, the learner who pressed Ctrl-C on `yes` waited while the megabyte or so
// still held between the box and the page (the exec stream, the engine, sockets, the flow window)
// was carried and drawn: about a second in Chromium here. The bytes skipped never enter the log,
// the screen mirror, the recording or the page, so all of them still agree; a dim line says how
// much was skipped. It ends at the prompt marker, or as soon as the output goes quiet (the held
// bytes are through: a shell without the marker, such as a container's `sh` started in the box,
// loses at most its prompt), and within a time and byte bound, so a command that ignores the
// interrupt (or a full-screen program, where Ctrl-C is just a key) loses at most that much.

/** Skipping ends at the shell's prompt, or after this long... */
const MAX_MS = 1000;
/** ...or this many bytes, whichever comes first. */
const MAX_BYTES = 8 * 1024 * 1024;

export interface FlushResult {
  /** Bytes of this chunk to pass on (from the prompt on), or undefined while still skipping. */
  rest?: Buffer;
  /** Set when skipping ended with this chunk: the line to show in its place. */
  note?: Buffer;
}

export class InterruptFlush {
  private since = 0;
  private skipped = 0;
  /** The end of what was skipped last, so a prompt marker split between two reads is found. */
  private tail = Buffer.alloc(0);
  private active = false;

  constructor(private readonly marker: Buffer) {}

  get skipping(): boolean { return this.active; }

  start(): void {
    if (this.active) return;
    this.active = true;
    this.since = Date.now();
    this.skipped = 0;
    this.tail = Buffer.alloc(0);
  }

  /** Passes `chunk` through the flush: nothing while skipping, the rest once the prompt shows. */
  filter(chunk: Buffer): FlushResult {
    if (!this.active) return { rest: chunk };
    const window = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk;
    const at = window.indexOf(this.marker);
    if (at >= 0) {
      this.skipped += at - this.tail.length;
      return this.end(window.subarray(at));
    }
    this.skipped += chunk.length;
    this.tail = Buffer.from(window.subarray(Math.max(0, window.length - (this.marker.length - 1))));
    if (Date.now() - this.since > MAX_MS || this.skipped > MAX_BYTES) return this.end(Buffer.alloc(0));
    return {};
  }

  /** Ends skipping now (the output went quiet: what was held is through); the line to show. */
  stop(): Buffer | undefined {
    return this.active ? this.end(Buffer.alloc(0)).note : undefined;
  }

  private end(rest: Buffer): FlushResult {
    this.active = false;
    const mib = this.skipped / 1024 / 1024;
    const amount = mib >= 1 ? `${mib.toFixed(1)} MiB` : `${Math.ceil(this.skipped / 1024)} KiB`;
    // Reset attributes first: the skipped bytes may have left a colour on.
    const note = Buffer.from(`\x1b[0m\r\n\x1b[2m[${amount} of output skipped after Ctrl-C]\x1b[0m\r\n`);
    return { rest, note };
  }
}
