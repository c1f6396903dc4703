// Recordings' bytes in PostgreSQL, so every replica can play any recording, running or finished,
// and a replica that dies loses only the batch it was gathering (chunk-sink.ts). A recording is
// rows of `recording_chunks` in order (`seq`), each a batch of whole lines starting at byte
// `start` (an imported file's rows are cut every 64 KiB instead: it is finished). The database itself holds the cap: a row that would end past its recording's cap, or
// whose recording was deleted, is not stored (the writer keeps under the cap; this holds even if
// it did not). Deleting a recording deletes its chunks (ON DELETE CASCADE).
import fs from 'node:fs';
import type { Database } from '../store/database.js';
import { ChunkSink, type ChunkSinkOptions } from './chunk-sink.js';

/** Chunks read per query while serving: a few MiB at most in memory per reader. */
const PAGE = 16;
/** Bytes per row when a legacy .cast file is imported. */
const IMPORT_BYTES = 64 * 1024;

export class RecordingChunks {
  constructor(private readonly db: Database) {}

  /** A sink appending to recording `id` (made by RecordingStore.create, so its row and cap exist). */
  sink(id: string, opts?: ChunkSinkOptions): ChunkSink {
    return new ChunkSink((seq, start, data) => this.append(id, seq, start, data), opts);
  }

  async append(id: string, seq: number, start: number, data: Buffer): Promise<void> {
    // One statement: the row and its cap are read where the chunk is written (cap 0: a row made without one).
    const { changes } = await this.db.run(`INSERT INTO recording_chunks (recording, seq, start, data)
      SELECT id, ?::integer, ?::bigint, ?::bytea FROM recordings WHERE id = ? AND (cap = 0 OR cap >= ?::bigint)`,
    [seq, start, data, id, start + data.length]);
    if (changes === 0) throw new Error('the recording was deleted, or would pass its size cap');
  }

  /** Bytes stored for `id` (whole lines: each chunk ends with one). */
  async size(id: string): Promise<number> {
    const last = await this.db.get<{ end: number }>(
      'SELECT start + octet_length(data) AS end FROM recording_chunks WHERE recording = ? ORDER BY seq DESC LIMIT 1', [id]);
    return last?.end ?? 0;
  }

  /** Every recording's stored bytes, by id (recordings with no chunks are absent). */
  async sizes(): Promise<Map<string, number>> {
    const rows = await this.db.all<{ recording: string; end: number }>(
      'SELECT recording, MAX(start + octet_length(data)) AS end FROM recording_chunks GROUP BY recording');
    return new Map(rows.map((r) => [r.recording, r.end]));
  }

  /** The first `end` bytes of `id`, a few chunks per query; throws if fewer are stored (it was deleted meanwhile). */
  async *read(id: string, end: number): AsyncGenerator<Buffer> {
    let offset = 0;
    let seq = -1;
    while (offset < end) {
      const rows = await this.db.all<{ seq: number; data: Buffer }>(
        'SELECT seq, data FROM recording_chunks WHERE recording = ? AND seq > ? ORDER BY seq LIMIT ?', [id, seq, PAGE]);
      if (rows.length === 0) throw new Error(`recording ${id} has ${offset} bytes stored, not ${end}`);
      for (const row of rows) {
        seq = row.seq;
        const take = Math.min(row.data.length, end - offset);
        yield take === row.data.length ? row.data : row.data.subarray(0, take);
        offset += take;
        if (offset >= end) return;
      }
    }
  }

  /**
   * Moves a .cast file of an earlier version (the replicas' shared folder) into chunks, cut after its
   * last whole line, and removes it; returns the bytes stored. One transaction, under a lock, so two
   * replicas starting at once import it once and a crash midway leaves the file to import again.
   */
  async importFile(id: string, file: string): Promise<number> {
    const bytes = await this.db.transaction(async (tx) => {
      await tx.lock(`recording-chunks:${id}`);
      const had = await tx.get<{ end: number }>(
        'SELECT start + octet_length(data) AS end FROM recording_chunks WHERE recording = ? ORDER BY seq DESC LIMIT 1', [id]);
      if (had) return had.end;
      if (!fs.existsSync(file)) return 0;
      const whole = fs.readFileSync(file);
      const end = whole.lastIndexOf(0x0a) + 1;
      for (let start = 0, seq = 0; start < end; start += IMPORT_BYTES, seq++) {
        await tx.run('INSERT INTO recording_chunks (recording, seq, start, data) VALUES (?, ?, ?, ?)',
          [id, seq, start, whole.subarray(start, Math.min(end, start + IMPORT_BYTES))]);
      }
      return end;
    });
    fs.rmSync(file, { force: true });
    return bytes;
  }
}
