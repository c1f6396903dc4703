// Writes one asciicast v2 file as events happen: output, input, resizes and markers, one JSON line
// each, appended through a file stream so the terminal never waits on the disk.
import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { AsciicastEvent, AsciicastHeader } from '../../protocol/asciicast.js';

export interface CastWriterOptions {
  width: number;
  height: number;
  title: string;
  /** Gaps longer than this (seconds) are shortened to it in the file: walkthroughs keep no dead air. */
  idleLimit?: number;
  /** Milliseconds clock; tests and walkthroughs may pass their own. */
  now?: () => number;
}

export class CastWriter {
  private readonly out: fs.WriteStream;
  private readonly started: number;
  private readonly now: () => number;
  /** Seconds written so far (after idle compression) and the wall clock they correspond to. */
  private virtual = 0;
  private lastWall: number;
  private readonly outputDecoder = new StringDecoder('utf8');
  private closed: Promise<void> | undefined;
  private bytes = 0;

  constructor(readonly file: string, private readonly opts: CastWriterOptions) {
    this.now = opts.now ?? Date.now;
    this.started = this.now();
    this.lastWall = this.started;
    this.out = fs.createWriteStream(file, { flags: 'w' });
    const header: AsciicastHeader = {
      version: 2, width: opts.width, height: opts.height, timestamp: Math.floor(this.started / 1000),
      title: opts.title, env: { TERM: 'xterm-256color', SHELL: '/bin/bash' },
      ...(opts.idleLimit ? { idle_time_limit: opts.idleLimit } : {}),
    };
    this.line(JSON.stringify(header));
  }

  /** Seconds into the recording, as written. */
  get duration(): number { return this.virtual; }
  get size(): number { return this.bytes; }

  output(chunk: Uint8Array): void {
    const text = this.outputDecoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if (text) this.event('o', text);
  }

  input(text: string): void { this.event('i', text); }
  resize(cols: number, rows: number): void { this.event('r', `${cols}x${rows}`); }
  marker(label: string): void { this.event('m', label); }

  close(): Promise<void> {
    this.closed ??= new Promise((resolve) => {
      const rest = this.outputDecoder.end();
      if (rest) this.event('o', rest);
      this.out.end(() => resolve());
    });
    return this.closed;
  }

  private event(code: AsciicastEvent[1], data: string): void {
    if (this.closed) return;
    const wall = this.now();
    const gap = (wall - this.lastWall) / 1000;
    this.lastWall = wall;
    this.virtual += this.opts.idleLimit ? Math.min(gap, this.opts.idleLimit) : gap;
    this.line(JSON.stringify([Math.round(this.virtual * 1e6) / 1e6, code, data]));
  }

  private line(text: string): void {
    this.bytes += Buffer.byteLength(text) + 1;
    this.out.write(`${text}\n`);
  }
}
