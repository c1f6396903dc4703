// Lab progress: each session's step states, and every check's outcome with its time (what
// instructors' views and the time-to-green figures are built from). In SQLite or PostgreSQL
// (server/store/).
import type { Database } from '../store/database.js';
import { migrate } from '../store/schema.js';
import type { StepStatus } from '../../protocol/api.js';

export interface StoredProgress { lab: string; current: number; statuses: StepStatus[] }

export class ProgressStore {
  private constructor(private readonly db: Database) {}

  static async open(db: Database): Promise<ProgressStore> {
    await migrate(db, 'progress');
    return new ProgressStore(db);
  }

  async load(session: string): Promise<StoredProgress | undefined> {
    const row = await this.db.get<{ lab: string; current: number; statuses: string }>('SELECT lab, current, statuses FROM progress WHERE session = ?', [session]);
    return row ? { lab: row.lab, current: row.current, statuses: JSON.parse(row.statuses) as StepStatus[] } : undefined;
  }

  async save(session: string, progress: StoredProgress): Promise<void> {
    await this.db.run(`INSERT INTO progress (session, lab, current, statuses, updated) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT(session) DO UPDATE SET current = excluded.current, statuses = excluded.statuses, updated = excluded.updated`,
    [session, progress.lab, progress.current, JSON.stringify(progress.statuses), Date.now()]);
  }

  async recordCheck(session: string, lab: string, step: number, passed: boolean, source: string, ms: number): Promise<void> {
    await this.db.run('INSERT INTO checks (session, lab, step, passed, source, ms, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [session, lab, step, passed ? 1 : 0, source, ms, Date.now()]);
  }

  async checks(session: string): Promise<Array<{ step: number; passed: boolean; source: string; ms: number; at: number }>> {
    return (await this.db.all<{ step: number; passed: number; source: string; ms: number; at: number }>(
      'SELECT step, passed, source, ms, at FROM checks WHERE session = ? ORDER BY rowid', [session])).map((r) => ({ ...r, passed: r.passed === 1 }));
  }
}
