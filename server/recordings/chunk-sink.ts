// A cast's bytes into the database in batches: lines gather until 64 KiB or a second has passed
// since the first of them, whichever comes first, then go in as one row (never a row per output
// chunk: a busy shell writes thousands a second). A server that dies loses at most the batch it was
// gathering, about a second. The first lines (the header) go at once, so every server can read the
// recording from its start. One row is in flight at a time, so rows land in order; each holds whole
// lines, so what is stored is always a valid recording up to its last event. A row the database
// refuses or fails to store ends the recording, as a full disk ends a file.
import type { CastSink } from './cast-sink.js';

/** Stores one batch: row `seq`, starting at byte `start` of the recording. Throws when it may not (deleted, over its cap). */
export type AppendChunk = (seq: number, start: number, data: Buffer) => Promise<void>;

export interface ChunkSinkOptions {
  /** A batch this big is stored at once. */
  batchBytes?: number;
  /** A batch is stored at the latest this long after its first line came. */
  batchMs?: number;
}

const BATCH_BYTES = 64 * 1024;
const BATCH_MS = 1000;
/** close() waits at most this long for the database: a server stopping with its database unreachable still stops. */
const CLOSE_WAIT_MS = 10_000;

export class ChunkSink implements CastSink {
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private batchDone: Array<() => void> = [];
  private inFlight = 0;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The interval ran out while a row was in flight: the batch goes as soon as it lands. */
  private due = false;
  private closing = false;
  private seq = 0;
  private start = 0;
  private failure: Error | undefined;
  private listener: ((err: Error) => void) | undefined;
  private readonly maxBytes: number;
  private readonly maxMs: number;

  constructor(private readonly append: AppendChunk, opts: ChunkSinkOptions = {}) {
    this.maxBytes = opts.batchBytes ?? BATCH_BYTES;
    this.maxMs = opts.batchMs ?? BATCH_MS;
  }

  get pending(): number { return this.batchBytes + this.inFlight; }

  onError(listener: (err: Error) => void): void { this.listener = listener; }

  write(text: string, done: () => void): void {
    if (this.failure) return;
    const bytes = Buffer.from(text);
    this.batch.push(bytes);
    this.batchBytes += bytes.length;
    this.batchDone.push(done);
    if (this.seq === 0 || this.batchBytes >= this.maxBytes) this.flush();
    else this.timer ??= setTimeout(() => { this.timer = undefined; this.due = true; this.flush(); }, this.maxMs).unref();
  }

  async close(): Promise<void> {
    this.closing = true;
    this.flush();
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<void>((resolve) => { timer = setTimeout(resolve, CLOSE_WAIT_MS).unref(); });
    const drained = (async () => { while (this.flushing) await this.flushing; })();
    await Promise.race([drained, gaveUp]);
    clearTimeout(timer);
  }

  private flush(): void {
    if (this.flushing || this.failure || this.batchBytes === 0) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.due = false;
    const data = Buffer.concat(this.batch, this.batchBytes);
    const done = this.batchDone;
    this.batch = [];
    this.batchBytes = 0;
    this.batchDone = [];
    this.inFlight = data.length;
    const seq = this.seq++;
    const start = this.start;
    this.start += data.length;
    this.flushing = this.append(seq, start, data).then(() => {
      this.inFlight = 0;
      this.flushing = undefined;
      for (const d of done) d();
      // What gathered meanwhile goes now if it is full, overdue or the last; else its timer runs.
      if (this.closing || this.due || this.batchBytes >= this.maxBytes) this.flush();
    }, (err: Error) => {
      this.inFlight = 0;
      this.flushing = undefined;
      this.fail(err);
    });
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    clearTimeout(this.timer);
    this.batch = [];
    this.batchBytes = 0;
    this.batchDone = [];
    this.listener?.(err);
  }
}
