// Recordings: metadata in SQLite, the .cast files under <stateDir>/recordings. Each recording has
// an owner (the learner's browser), and a separate unguessable share id for read-only links.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { RecordingInfo } from '../../protocol/api.js';

interface Row {
  id: string; share: string; owner: string; lab: string; session: string; terminal: string; title: string;
  created: number; duration: number; bytes: number; input: number; state: string;
}

function toInfo(r: Row): RecordingInfo {
  return {
    id: r.id, share: r.share, lab: r.lab, terminal: r.terminal, title: r.title, createdAt: r.created,
    durationS: r.duration, bytes: r.bytes, input: r.input === 1, recording: r.state === 'recording',
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
    // A recording still marked as running belongs to a server that stopped without closing it:
    // its file ends at the last whole event, so it is kept, as finished.
    this.db.prepare("UPDATE recordings SET state = 'done' WHERE state = 'recording'").run();
  }

  create(r: { owner: string; lab: string; session: string; terminal: string; title: string; input: boolean }): { info: RecordingInfo; file: string } {
    const id = crypto.randomBytes(9).toString('base64url');
    const share = crypto.randomBytes(24).toString('base64url');
    this.db.prepare(`INSERT INTO recordings (id, share, owner, lab, session, terminal, title, created, input, state)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'recording')`).run(id, share, r.owner, r.lab, r.session, r.terminal, r.title, Date.now(), r.input ? 1 : 0);
    return { info: this.get(id)!, file: this.file(id) };
  }

  finish(id: string, durationS: number, bytes: number): void {
    this.db.prepare("UPDATE recordings SET state = 'done', duration = ?, bytes = ? WHERE id = ?").run(durationS, bytes, id);
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
