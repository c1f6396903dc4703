// Recordings: metadata in SQLite or PostgreSQL (server/store/), the .cast files under
// <stateDir>/recordings (servers sharing a database share that folder too). Each recording has
// an owner (the learner's browser), and a separate unguessable share id for read-only links.
// At start the two are made to agree: a file without a row, or a row without its file, is removed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Database } from '../store/database.js';
import { migrate } from '../store/schema.js';
import type { RecordingInfo } from '../../protocol/api.js';

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

export class RecordingStore {
  private constructor(private readonly db: Database, readonly dir: string) {}

  /** `runsAtMostMs`: how long a recording can run (its cap), which tells another server's running recording from a dead one. */
  static async open(db: Database, stateDir: string, runsAtMostMs = 2 * 60 * 60 * 1000): Promise<RecordingStore> {
    const dir = path.join(stateDir, 'recordings');
    fs.mkdirSync(dir, { recursive: true });
    await migrate(db, 'recordings');
    const store = new RecordingStore(db, dir);
    await store.reconcile(runsAtMostMs);
    return store;
  }

  /**
   * Makes the files and rows agree after a previous run: a recording still marked as running
   * belongs to a server that stopped without closing it, so its file is cut after its last whole
   * event and kept, as finished; a row whose file is gone is dropped; a .cast file (or anything
   * else) in the directory that no row names is deleted. On a database servers share (PostgreSQL),
   * a running recording younger than the longest a recording runs may be another server's, still
   * being written: it is left alone, and a file is deleted only if its row is still missing when
   * the directory is read (a row is made before its file).
   */
  private async reconcile(runsAtMostMs: number): Promise<void> {
    const shared = this.db.dialect === 'postgres';
    const rows = await this.db.all<Pick<Row, 'id' | 'state' | 'bytes' | 'created'>>('SELECT id, state, bytes, created FROM recordings');
    const known = new Set<string>();
    for (const row of rows) {
      const file = this.file(row.id);
      if (shared && row.state === 'recording' && row.created > Date.now() - runsAtMostMs) {
        known.add(path.basename(file));
        continue;
      }
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
      if (known.has(name)) continue;
      if (shared && name.endsWith('.cast') && await this.db.get('SELECT 1 FROM recordings WHERE id = ?', [name.slice(0, -'.cast'.length)])) continue;
      fs.rmSync(path.join(this.dir, name), { recursive: true, force: true });
    }
  }

  /**
   * Adds a running recording if its owner has room: `room` is given the owner's usage and returns
   * the new recording's size cap (or throws why it may not start). One transaction holding the
   * owner's recordings, so two starts at once, on any servers, cannot both take the last room.
   */
  create(r: { owner: string; lab: string; session: string; terminal: string; title: string; input: boolean },
    room: (usage: RecordingUsage) => number = () => 0): Promise<{ info: RecordingInfo; file: string; cap: number }> {
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

  /** Deletes the row and its file (idempotent: several servers' sweeps may delete the same one). */
  async delete(id: string): Promise<void> {
    await this.db.run('DELETE FROM recordings WHERE id = ?', [id]);
    fs.rmSync(this.file(id), { force: true });
  }

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
