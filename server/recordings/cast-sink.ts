// Where a cast's bytes go as it is written: a file on this server's disk (SQLite, walkthroughs) or
// the database's chunks (PostgreSQL: recording-chunks.ts), so the writer is one class either way.
// A sink takes whole lines only and says when each reached its store: what a reader may be served
// while the recording runs is what was stored, and what is pending holds the shell back.
import fs from 'node:fs';

export interface CastSink {
  /** Appends whole lines; `done` runs once they are stored (never when the sink failed first). */
  write(text: string, done: () => void): void;
  /** Bytes handed over and not stored yet. */
  readonly pending: number;
  /** `listener` runs once when the sink cannot store any more (a full disk, a lost database); later writes are dropped. */
  onError(listener: (err: Error) => void): void;
  /** Stores what is pending, then releases the sink; resolves even when it failed. */
  close(): Promise<void>;
}

/** A .cast file on this server's disk, appended through a file stream. */
export class FileSink implements CastSink {
  private out: fs.WriteStream | undefined;
  private listener: ((err: Error) => void) | undefined;
  private failed = false;

  constructor(readonly file: string) {}

  get pending(): number { return this.out?.writableLength ?? 0; }

  onError(listener: (err: Error) => void): void { this.listener = listener; }

  write(text: string, done: () => void): void {
    if (!this.out) {
      // The first lines (the header) are written at once, so the file is a valid (empty) recording from the start.
      fs.writeFileSync(this.file, text);
      this.out = fs.createWriteStream(this.file, { flags: 'a' });
      this.out.on('error', (err) => {
        if (this.failed) return;
        this.failed = true;
        this.listener?.(err);
      });
      done();
      return;
    }
    if (this.out.destroyed) return;
    this.out.write(text, (err) => { if (!err) done(); });
  }

  close(): Promise<void> {
    const out = this.out;
    if (!out || out.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      out.end(() => resolve());
      out.once('close', () => resolve());
    });
  }
}
