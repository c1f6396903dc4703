// Recordings: metadata in SQLite or PostgreSQL (server/store/), and their bytes where every server
// using that database can read them: on SQLite (one server) .cast files under <stateDir>/recordings,
// on PostgreSQL rows of the database itself (recording-chunks.ts), so any replica plays any
// recording, running or finished. Each recording has an owner (the learner's browser), and a
// separate unguessable share id for read-only links. At start the two are made to agree: bytes
// without a row, or a row without its bytes, are removed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Database } from '../store/database.js';
import { migrate } from '../store/schema.js';
import type { RecordingInfo } from '../../protocol/api.js';
import { FileSink, type CastSink } from './cast-sink.js';
import type { ChunkSinkOptions } from './chunk-sink.js';
import { RecordingChunks } from './recording-chunks.js';

interface Row {
  id: string; share: string; owner: string; lab: string; session: string; terminal: string; title: string;
  created: number; duration: number; bytes: number; input: number; state: string; stopped: string | null;
}

function toInfo(r: Row): RecordingInfo {
  return {
    id: r.id, share: r.share, lab: r.lab, terminal: r.terminal, title: r.title, createdAt: r.created,
    durationS: r.duration, bytes: r.bytes, input: r.input === 1, recording: r.state === 'recording',
    ...(r.stopped ? { stopped: r.stopped } : {}),
  };
}

/** What an owner's recordings take: how many, and bytes (finished ones at their size, running ones at their cap). */
export interface RecordingUsage { count: number; bytes: number }

/** A recording's bytes as served: `size` of them, streamed by `body`. */
export interface CastBytes { size: number; body: Readable }

export class RecordingStore {
  /** Set on PostgreSQL: the bytes are in the database. */
  private readonly chunks: RecordingChunks | undefined;

  private constructor(private readonly db: Database, readonly dir: string) {
    this.chunks = db.dialect === 'postgres' ? new RecordingChunks(db) : undefined;
  }

  /** `runsAtMostMs`: how long a recording can run (its cap), which tells another server's running recording from a dead one. */
  static async open(db: Database, stateDir: string, runsAtMostMs = 2 * 60 * 60 * 1000): Promise<RecordingStore> {
    const dir = path.join(stateDir, 'recordings');
    await migrate(db, 'recordings');
    const store = new RecordingStore(db, dir);
    if (store.chunks) await store.reconcileChunks(runsAtMostMs);
    else {
      fs.mkdirSync(dir, { recursive: true });
      await store.reconcileFiles();
    }
    return store;
  }

  /** True when every server sharing the database reads the bytes (PostgreSQL). */
  get shared(): boolean { return this.chunks !== undefined; }

  /**
   * SQLite: makes the files and rows agree after a previous run. A recording still marked as
   * running belongs to a run that stopped without closing it (a file has one server), so its file
   * is cut after its last whole event and kept, as finished; a row whose file is gone is dropped;
   * a .cast file (or anything else) in the directory that no row names is deleted.
   */
  private async reconcileFiles(): Promise<void> {
    const rows = await this.db.all<Pick<Row, 'id' | 'state'>>('SELECT id, state FROM recordings');
    const known = new Set<string>();
    for (const row of rows) {
      const file = this.file(row.id);
      if (!fs.existsSync(file)) {
        await this.db.run('DELETE FROM recordings WHERE id = ?', [row.id]);
        continue;
      }
      if (row.state === 'recording') {
        const bytes = wholeLines(file);
        if (bytes === 0) {
          await this.db.run('DELETE FROM recordings WHERE id = ?', [row.id]);
          continue;
        }
        await this.db.run("UPDATE recordings SET state = 'done', bytes = ? WHERE id = ?", [bytes, row.id]);
      }
      known.add(path.basename(file));
    }
    for (const name of fs.readdirSync(this.dir)) {
      if (!known.has(name)) fs.rmSync(path.join(this.dir, name), { recursive: true, force: true });
    }
  }

  /**
   * PostgreSQL: makes the chunks and rows agree. A running recording younger than the longest a
   * recording runs may be another replica's, still being written: it is left alone. An older one
   * belongs to a replica that died: what it stored is whole lines up to its last batch, kept as
   * finished. A recording with no bytes is dropped, after taking in the .cast file an earlier
   * version left in the shared folder, if any. Chunks cannot outlive their row (a foreign key).
   */
  private async reconcileChunks(runsAtMostMs: number): Promise<void> {
    const chunks = this.chunks!;
    const rows = await this.db.all<Pick<Row, 'id' | 'state' | 'created'>>('SELECT id, state, created FROM recordings');
    const sizes = await chunks.sizes();
    for (const row of rows) {
      if (row.state === 'recording' && row.created > Date.now() - runsAtMostMs) continue;
      let bytes = sizes.get(row.id) ?? 0;
      // No bytes when listed: a leftover file is imported now, or another replica starting at the same
      // moment imported it (and removed the file) since: importFile reads that under its lock too.
      if (bytes === 0) bytes = await chunks.importFile(row.id, this.file(row.id));
      if (bytes === 0) await this.db.run('DELETE FROM recordings WHERE id = ?', [row.id]);
      else if (row.state === 'recording') await this.db.run("UPDATE recordings SET state = 'done', bytes = ? WHERE id = ?", [bytes, row.id]);
    }
  }

  /**
   * PostgreSQL: recordings still marked running though made before `before` (longer ago than any
   * recording runs) belong to a replica that died since the last start: finished at what they
   * stored, or dropped if nothing. Run by every replica's retention sweep, so a dead replica's
   * recordings do not wait for a replica to start. (SQLite: its one server did this at start.)
   */
  async recoverAbandoned(before: number): Promise<void> {
    if (!this.chunks) return;
    const rows = await this.db.all<{ id: string }>("SELECT id FROM recordings WHERE state = 'recording' AND created < ?", [before]);
    for (const { id } of rows) {
      const bytes = await this.chunks.size(id);
      if (bytes === 0) await this.db.run("DELETE FROM recordings WHERE id = ? AND state = 'recording'", [id]);
      else await this.db.run("UPDATE recordings SET state = 'done', bytes = ? WHERE id = ? AND state = 'recording'", [bytes, id]);
    }
  }

  /**
   * Adds a running recording if its owner has room: `room` is given the owner's usage and returns
   * the new recording's size cap (or throws why it may not start). One transaction holding the
   * owner's recordings, so two starts at once, on any servers, cannot both take the last room.
   */
  create(r: { owner: string; lab: string; session: string; terminal: string; title: string; input: boolean },
    room: (usage: RecordingUsage) => number = () => 0): Promise<{ info: RecordingInfo; file: string; cap: number }> {
    // `file`: where SQLite keeps its bytes (on PostgreSQL, unused: write through sink()).
    const id = crypto.randomBytes(9).toString('base64url');
    const share = crypto.randomBytes(24).toString('base64url');
    return this.db.transaction(async (tx) => {
      await tx.lock(`recordings:${r.owner}`);
      const usage = (await tx.get<RecordingUsage>(`SELECT COUNT(*) AS count,
        COALESCE(SUM(CASE WHEN state = 'done' THEN bytes ELSE cap END), 0) AS bytes FROM recordings WHERE owner = ?`, [r.owner]))!;
      const cap = room(usage);
      await tx.run(`INSERT INTO recordings (id, share, owner, lab, session, terminal, title, created, input, state, cap)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'recording', ?)`, [id, share, r.owner, r.lab, r.session, r.terminal, r.title, Date.now(), r.input ? 1 : 0, cap]);
      const row = (await tx.get<Row>('SELECT * FROM recordings WHERE id = ?', [id]))!;
      return { info: toInfo(row), file: this.file(id), cap };
    });
  }

  /** `stopped`: why a cap stopped it (shown to the learner), when one did. */
  async finish(id: string, durationS: number, bytes: number, stopped?: string): Promise<void> {
    await this.db.run("UPDATE recordings SET state = 'done', duration = ?, bytes = ?, stopped = ? WHERE id = ?", [durationS, bytes, stopped ?? null, id]);
  }

  /** How many recordings `owner` has, and their bytes (running ones count at their cap). */
  async usage(owner: string): Promise<RecordingUsage> {
    return (await this.db.get<RecordingUsage>(`SELECT COUNT(*) AS count,
      COALESCE(SUM(CASE WHEN state = 'done' THEN bytes ELSE cap END), 0) AS bytes FROM recordings WHERE owner = ?`, [owner]))!;
  }

  /** Ids of finished recordings created before `before` (epoch ms). */
  async createdBefore(before: number): Promise<string[]> {
    return (await this.db.all<{ id: string }>("SELECT id FROM recordings WHERE state = 'done' AND created < ?", [before])).map((r) => r.id);
  }

  /** Changes when a recording counts as made (retention is measured from it). */
  async setCreated(id: string, created: number): Promise<void> {
    await this.db.run('UPDATE recordings SET created = ? WHERE id = ?', [created, id]);
  }

  async get(id: string): Promise<RecordingInfo | undefined> {
    const row = await this.db.get<Row>('SELECT * FROM recordings WHERE id = ?', [id]);
    return row ? toInfo(row) : undefined;
  }

  async ownedBy(id: string, owner: string): Promise<RecordingInfo | undefined> {
    const row = await this.db.get<Row>('SELECT * FROM recordings WHERE id = ? AND owner = ?', [id, owner]);
    return row ? toInfo(row) : undefined;
  }

  async byShare(share: string): Promise<RecordingInfo | undefined> {
    const row = await this.db.get<Row>('SELECT * FROM recordings WHERE share = ?', [share]);
    return row ? toInfo(row) : undefined;
  }

  async list(owner: string, lab?: string): Promise<RecordingInfo[]> {
    const rows = lab
      ? await this.db.all<Row>('SELECT * FROM recordings WHERE owner = ? AND lab = ? ORDER BY created DESC', [owner, lab])
      : await this.db.all<Row>('SELECT * FROM recordings WHERE owner = ? ORDER BY created DESC', [owner]);
    return rows.map(toInfo);
  }

  /** Deletes the row and its bytes (idempotent: several servers' sweeps may delete the same one). */
  async delete(id: string): Promise<void> {
    // On PostgreSQL the chunks go with the row (ON DELETE CASCADE), in the same statement.
    await this.db.run('DELETE FROM recordings WHERE id = ?', [id]);
    fs.rmSync(this.file(id), { force: true });
  }

  /** Where recording `id`'s bytes are written (its row exists: create() made it). `opts` tunes the database's batches (tests). */
  sink(id: string, opts?: ChunkSinkOptions): CastSink {
    return this.chunks ? this.chunks.sink(id, opts) : new FileSink(this.file(id));
  }

  /**
   * The bytes of recording `id`: its first `limit` (what it holds as whole events) or, without a
   * limit, all it holds. On PostgreSQL those are whole lines (each chunk is), so a recording
   * running on another replica is served up to its last batch. Undefined when its file is missing (SQLite).
   */
  async read(id: string, limit = Infinity): Promise<CastBytes | undefined> {
    if (this.chunks) {
      const size = Math.min(limit, await this.chunks.size(id));
      return { size, body: Readable.from(this.chunks.read(id, size)) };
    }
    const file = this.file(id);
    let stored: number;
    try { stored = fs.statSync(file).size; } catch { return undefined; }
    const size = Math.min(limit, stored);
    return { size, body: size === 0 ? Readable.from([]) : fs.createReadStream(file, { end: size - 1 }) };
  }

  /** The .cast file of recording `id` on SQLite (the local disk); nothing is there on PostgreSQL. */
  file(id: string): string { return path.join(this.dir, `${id}.cast`); }
}

/** Cuts `file` after its last newline (a crash can leave half an event) and returns its new size. */
function wholeLines(file: string): number {
  const size = fs.statSync(file).size;
  const fd = fs.openSync(file, 'r+');
  try {
    const tail = Buffer.alloc(Math.min(size, 64 * 1024));
    let end = size;
    while (end > 0) {
      const len = Math.min(tail.length, end);
      fs.readSync(fd, tail, 0, len, end - len);
      const nl = tail.subarray(0, len).lastIndexOf(0x0a);
      if (nl >= 0) { end = end - len + nl + 1; break; }
      end -= len;
    }
    if (end !== size) fs.ftruncateSync(fd, end);
    return end;
  } finally {
    fs.closeSync(fd);
  }
}
