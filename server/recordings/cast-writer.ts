// Writes one asciicast file as events happen: output, input, resizes and markers, one JSON line
// each, appended as it goes. asciicast v2 by default (what Debian's asciinema 2 reads);
// v3 when asked (TERMLAB_RECORDING_FORMAT=v3): `term: {cols, rows}` in the header, each event's
// time the interval since the one before, and an `x` event with the shell's exit status when it is
// known. The file never passes `maxBytes` (room is kept for a final marker), and the bytes the
// sink still holds are exposed so the terminal can be held back while the disk (or the database)
// lags (TerminalStream.addPressure) instead of the server's memory growing. The lines go to a file
// or to any other CastSink (the database's chunks, cast-sink.ts).
import { StringDecoder } from 'node:string_decoder';
import type { AsciicastEvent } from '../../protocol/asciicast.js';
import { FileSink, type CastSink } from './cast-sink.js';

export type RecordingFormat = 'v2' | 'v3';

export interface CastWriterOptions {
  width: number;
  height: number;
  title: string;
  /** The asciicast version written; v2 unless given. */
  format?: RecordingFormat;
  /** Gaps longer than this (seconds) are shortened to it in the file: walkthroughs keep no dead air. */
  idleLimit?: number;
  /** Milliseconds clock; tests and walkthroughs may pass their own. */
  now?: () => number;
  /** The file's size cap: an event that would pass it (less room for a final marker) is not written and `onFull` runs. */
  maxBytes?: number;
  onFull?: () => void;
  /** Runs after lines reach the file or database (the buffer shrank). */
  onFlushed?: () => void;
}

/** Kept free under `maxBytes` for the closing marker, so even a stopped-at-the-cap file stays under it. */
const CLOSING_ROOM = 512;

export class CastWriter {
  private readonly out: CastSink;
  private readonly started: number;
  private readonly now: () => number;
  /** Seconds written so far (after idle compression) and the wall clock they correspond to. */
  private virtual = 0;
  /** The time of the last event written, as written (rounded to the microsecond): v3 intervals count from it. */
  private lastWritten = 0;
  private readonly v3: boolean;
  private lastWall: number;
  private readonly outputDecoder = new StringDecoder('utf8');
  private closed: Promise<void> | undefined;
  private bytes = 0;
  private written = 0;
  private full = false;
  private peak = 0;
  private largest = 0;
  private failure: Error | undefined;
  /** close() has begun: later events are dropped. */
  private closing = false;

  /** `out`: a file's path, or where else the lines go. */
  constructor(out: string | CastSink, private readonly opts: CastWriterOptions) {
    this.now = opts.now ?? Date.now;
    this.started = this.now();
    this.lastWall = this.started;
    this.v3 = opts.format === 'v3';
    // The header is stored at once (a file's synchronously), so the recording is valid (empty) from the start.
    const timestamp = Math.floor(this.started / 1000);
    const idle = opts.idleLimit ? { idle_time_limit: opts.idleLimit } : {};
    const header = this.v3
      ? { version: 3, term: { cols: opts.width, rows: opts.height, type: 'xterm-256color' }, timestamp, ...idle, title: opts.title, env: { SHELL: '/bin/bash' } }
      : { version: 2, width: opts.width, height: opts.height, timestamp, title: opts.title, env: { TERM: 'xterm-256color', SHELL: '/bin/bash' }, ...idle };
    this.out = typeof out === 'string' ? new FileSink(out) : out;
    // A write error (the disk is full, the database gone) ends the recording instead of crashing the server.
    this.out.onError((err) => {
      this.failure ??= err;
      this.stopWriting();
    });
    this.line(JSON.stringify(header), false);
  }

  /** Seconds into the recording, as written. */
  get duration(): number { return this.virtual; }
  get size(): number { return this.bytes; }
  /** Bytes that reached the file or database: a reader while it is written gets whole lines up to here. */
  get flushed(): number { return this.written; }
  /** Bytes handed to the sink that it has not stored yet. */
  get pending(): number { return this.out.pending; }
  /** The most `pending` ever was, and the longest line: back-pressure keeps the first within one line of the high-water mark. */
  get peakPending(): number { return this.peak; }
  get largestLine(): number { return this.largest; }
  /** The cap stopped an event (or the file failed); nothing more but the closing marker is written. */
  get isFull(): boolean { return this.full; }
  get error(): Error | undefined { return this.failure; }

  output(chunk: Uint8Array): void {
    const text = this.outputDecoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if (text) this.event('o', text);
  }

  input(text: string): void { this.event('i', text); }
  resize(cols: number, rows: number): void { this.event('r', `${cols}x${rows}`); }
  marker(label: string): void { this.event('m', label); }
  /** The recorded shell exited with `status`: an `x` event in v3 (v2 has none; nothing is written). */
  exit(status: number): void { if (this.v3) this.event('x', String(Math.trunc(status))); }

  /** Closes the file, after a last marker `finalMarker` when given (written even at the cap). */
  close(finalMarker?: string): Promise<void> {
    if (!this.closed) {
      const rest = this.outputDecoder.end();
      if (rest && !this.full) this.event('o', rest);
      if (finalMarker && !this.failure) this.event('m', finalMarker, true);
      this.closing = true;
      this.closed = this.out.close();
    }
    return this.closed;
  }

  private event(code: AsciicastEvent[1] | 'x', data: string, closing = false): void {
    if (this.closing || (this.full && !closing)) return;
    const wall = this.now();
    const gap = (wall - this.lastWall) / 1000;
    const virtual = this.virtual + (this.opts.idleLimit ? Math.min(gap, this.opts.idleLimit) : gap);
    // Both versions round the time since the start to the microsecond; v3 writes the difference to
    // the previous event's rounded time, so a reader summing the intervals gets the same times.
    const at = Math.round(virtual * 1e6) / 1e6;
    const text = JSON.stringify([this.v3 ? Math.round((at - this.lastWritten) * 1e6) / 1e6 : at, code, data]);
    const limit = this.opts.maxBytes;
    if (!closing && limit !== undefined && this.bytes + Buffer.byteLength(text) + 1 > limit - CLOSING_ROOM) {
      this.stopWriting();
      return;
    }
    this.lastWall = wall;
    this.virtual = virtual;
    this.lastWritten = at;
    this.line(text);
  }

  private stopWriting(): void {
    if (this.full) return;
    this.full = true;
    this.opts.onFull?.();
  }

  /** `notify`: run onFlushed when it is stored (not for the header, stored before the constructor returns). */
  private line(text: string, notify = true): void {
    if (this.failure) return;
    const size = Buffer.byteLength(text) + 1;
    this.bytes += size;
    this.largest = Math.max(this.largest, size);
    this.out.write(`${text}\n`, () => {
      this.written += size;
      if (notify) this.opts.onFlushed?.();
    });
    this.peak = Math.max(this.peak, this.out.pending);
  }
}
