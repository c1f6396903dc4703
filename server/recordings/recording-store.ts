// Recordings: metadata in SQLite, the .cast files under <stateDir>/recordings. Each recording has
// an owner (the learner's browser), and a separate unguessable share id for read-only links.
// At start the two are made to agree: a file without a row, or a row without its file, is removed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
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

export class RecordingStore {
  private readonly db: Database.Database;
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = path.join(stateDir, 'recordings');
    fs.mkdirSync(this.dir, { recursive: true });
    this.db = new Database(path.join(stateDir, 'recordings.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS recordings (
      id TEXT PRIMARY KEY, share TEXT UNIQUE NOT NULL, owner TEXT NOT NULL, lab TEXT NOT NULL, session TEXT NOT NULL,
      terminal TEXT NOT NULL, title TEXT NOT NULL, created INTEGER NOT NULL, duration REAL NOT NULL DEFAULT 0,
      bytes INTEGER NOT NULL DEFAULT 0, input INTEGER NOT NULL, state TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS recordings_owner ON recordings (owner, lab);`);
    const columns = this.db.prepare('PRAGMA table_info(recordings)').all() as Array<{ name: string }>;
    if (!columns.some((c) => c.name === 'stopped')) this.db.exec('ALTER TABLE recordings ADD COLUMN stopped TEXT');
    this.reconcile();
  }

  /**
   * Makes the files and rows agree after a previous run: a recording still marked as running
   * belongs to a server that stopped without closing it, so its file is cut after its last whole
   * event and kept, as finished; a row whose file is gone is dropped; a .cast file (or anything
   * else) in the directory that no row names is deleted.
   */
  private reconcile(): void {
    const rows = this.db.prepare('SELECT id, state, bytes FROM recordings').all() as Array<Pick<Row, 'id' | 'state' | 'bytes'>>;
    const known = new Set<string>();
    for (const row of rows) {
      const file = this.file(row.id);
      if (!fs.existsSync(file)) {
        this.db.prepare('DELETE FROM recordings WHERE id = ?').run(row.id);
        continue;
      }
      if (row.state === 'recording') {
        const bytes = wholeLines(file);
        if (bytes === 0) {
          this.db.prepare('DELETE FROM recordings WHERE id = ?').run(row.id);
          continue;
        }
        this.db.prepare("UPDATE recordings SET state = 'done', bytes = ? WHERE id = ?").run(bytes, row.id);
      }
      known.add(path.basename(file));
    }
    for (const name of fs.readdirSync(this.dir)) {
      if (!known.has(name)) fs.rmSync(path.join(this.dir, name), { recursive: true, force: true });
    }
  }

  create(r: { owner: string; lab: string; session: string; terminal: string; title: string; input: boolean }): { info: RecordingInfo; file: string } {
    const id = crypto.randomBytes(9).toString('base64url');
    const share = crypto.randomBytes(24).toString('base64url');
    this.db.prepare(`INSERT INTO recordings (id, share, owner, lab, session, terminal, title, created, input, state)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'recording')`).run(id, share, r.owner, r.lab, r.session, r.terminal, r.title, Date.now(), r.input ? 1 : 0);
    return { info: this.get(id)!, file: this.file(id) };
  }

  /** `stopped`: why a cap stopped it (shown to the learner), when one did. */
  finish(id: string, durationS: number, bytes: number, stopped?: string): void {
    this.db.prepare("UPDATE recordings SET state = 'done', duration = ?, bytes = ?, stopped = ? WHERE id = ?").run(durationS, bytes, stopped ?? null, id);
  }

  /** How many recordings `owner` has, and the bytes of the finished ones (running ones count 0 here). */
  usage(owner: string): { count: number; bytes: number } {
    const row = this.db.prepare("SELECT COUNT(*) AS count, COALESCE(SUM(CASE WHEN state = 'done' THEN bytes ELSE 0 END), 0) AS bytes FROM recordings WHERE owner = ?").get(owner) as { count: number; bytes: number };
    return row;
  }

  /** Ids of finished recordings created before `before` (epoch ms). */
  createdBefore(before: number): string[] {
    return (this.db.prepare("SELECT id FROM recordings WHERE state = 'done' AND created < ?").all(before) as Array<{ id: string }>).map((r) => r.id);
  }

  /** Changes when a recording counts as made (retention is measured from it). */
  setCreated(id: string, created: number): void {
    this.db.prepare('UPDATE recordings SET created = ? WHERE id = ?').run(created, id);
  }

  get(id: string): RecordingInfo | undefined {
    const row = this.db.prepare('SELECT * FROM recordings WHERE id = ?').get(id) as Row | undefined;
    return row ? toInfo(row) : undefined;
  }

  ownedBy(id: string, owner: string): RecordingInfo | undefined {
    const row = this.db.prepare('SELECT * FROM recordings WHERE id = ? AND owner = ?').get(id, owner) as Row | undefined;
    return row ? toInfo(row) : undefined;
  }

  byShare(share: string): RecordingInfo | undefined {
    const row = this.db.prepare('SELECT * FROM recordings WHERE share = ?').get(share) as Row | undefined;
    return row ? toInfo(row) : undefined;
  }

  list(owner: string, lab?: string): RecordingInfo[] {
    const rows = (lab
      ? this.db.prepare('SELECT * FROM recordings WHERE owner = ? AND lab = ? ORDER BY created DESC').all(owner, lab)
      : this.db.prepare('SELECT * FROM recordings WHERE owner = ? ORDER BY created DESC').all(owner)) as Row[];
    return rows.map(toInfo);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM recordings WHERE id = ?').run(id);
    fs.rmSync(this.file(id), { force: true });
  }

  file(id: string): string { return path.join(this.dir, `${id}.cast`); }

  close(): void { this.db.close(); }
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
