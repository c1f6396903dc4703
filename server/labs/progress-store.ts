// Lab progress in SQLite (better-sqlite3): each session's step states, and every check's outcome
// with its time (what instructors' views and the time-to-green figures are built from).
import type Database from 'better-sqlite3';
import { openDatabase } from '../sqlite.js';
import type { StepStatus } from '../../protocol/api.js';

export interface StoredProgress { lab: string; current: number; statuses: StepStatus[] }

export class ProgressStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = openDatabase(file);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS progress (
        session TEXT PRIMARY KEY, lab TEXT NOT NULL, current INTEGER NOT NULL,
        statuses TEXT NOT NULL, updated INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS checks (
        session TEXT NOT NULL, lab TEXT NOT NULL, step INTEGER NOT NULL, passed INTEGER NOT NULL,
        source TEXT NOT NULL, ms INTEGER NOT NULL, at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS checks_session ON checks (session);
    `);
  }

  load(session: string): StoredProgress | undefined {
    const row = this.db.prepare('SELECT lab, current, statuses FROM progress WHERE session = ?').get(session) as
      { lab: string; current: number; statuses: string } | undefined;
    return row ? { lab: row.lab, current: row.current, statuses: JSON.parse(row.statuses) as StepStatus[] } : undefined;
  }

  save(session: string, progress: StoredProgress): void {
    this.db.prepare(`INSERT INTO progress (session, lab, current, statuses, updated) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT(session) DO UPDATE SET current = excluded.current, statuses = excluded.statuses, updated = excluded.updated`)
      .run(session, progress.lab, progress.current, JSON.stringify(progress.statuses), Date.now());
  }

  recordCheck(session: string, lab: string, step: number, passed: boolean, source: string, ms: number): void {
    this.db.prepare('INSERT INTO checks (session, lab, step, passed, source, ms, at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(session, lab, step, passed ? 1 : 0, source, ms, Date.now());
  }

  checks(session: string): Array<{ step: number; passed: boolean; source: string; ms: number; at: number }> {
    return (this.db.prepare('SELECT step, passed, source, ms, at FROM checks WHERE session = ? ORDER BY rowid').all(session) as
      Array<{ step: number; passed: number; source: string; ms: number; at: number }>).map((r) => ({ ...r, passed: r.passed === 1 }));
  }

  close(): void { this.db.close(); }
}
