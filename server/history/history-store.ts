// Learners' attempts at labs, in the same SQLite file as session progress and workshops (its own
// connection): one row per attempt, one per learner who gave a name. Every table is bounded: attempts
// per learner and lab, attempts in all, and a retention after which untouched rows go.
import type Database from 'better-sqlite3';
import { openDatabase } from '../sqlite.js';

export type AttemptState = 'in-progress' | 'finished' | 'left';

export interface AttemptRow {
  id: string;
  learner: string;
  lab: string;
  title: string;
  /** Hash of what replaying depends on (steps' setups, solutions and checks, files, setup): a lab that changed cannot be resumed. */
  version: string;
  state: AttemptState;
  /** When each step passed (its index), null while not yet: steps pass in order. */
  passedAt: Array<number | null>;
  /** The session that runs (or last ran) it. */
  session: string;
  startedAt: number;
  updatedAt: number;
  finishedAt?: number;
  /** The signed proof, once finished. */
  completion?: string;
}

interface Row {
  id: string; learner: string; lab: string; title: string; version: string; state: AttemptState; passed: string;
  session: string; started: number; updated: number; finished: number | null; completion: string | null;
}

function toAttempt(r: Row): AttemptRow {
  return {
    id: r.id, learner: r.learner, lab: r.lab, title: r.title, version: r.version, state: r.state,
    passedAt: JSON.parse(r.passed) as Array<number | null>, session: r.session, startedAt: r.started, updatedAt: r.updated,
    finishedAt: r.finished ?? undefined, completion: r.completion ?? undefined,
  };
}

export class HistoryStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = openDatabase(file);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS learners (id TEXT PRIMARY KEY, name TEXT NOT NULL, updated INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS attempts (
        id TEXT PRIMARY KEY, learner TEXT NOT NULL, lab TEXT NOT NULL, title TEXT NOT NULL, version TEXT NOT NULL,
        state TEXT NOT NULL, passed TEXT NOT NULL, session TEXT NOT NULL,
        started INTEGER NOT NULL, updated INTEGER NOT NULL, finished INTEGER, completion TEXT);
      CREATE INDEX IF NOT EXISTS attempts_learner ON attempts (learner, lab, started);
      CREATE INDEX IF NOT EXISTS attempts_updated ON attempts (updated);
    `);
  }

  name(learner: string): string {
    const row = this.db.prepare('SELECT name FROM learners WHERE id = ?').get(learner) as { name: string } | undefined;
    return row?.name ?? '';
  }

  setName(learner: string, name: string): void {
    if (name) this.db.prepare('INSERT INTO learners (id, name, updated) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, updated = excluded.updated').run(learner, name, Date.now());
    else this.db.prepare('DELETE FROM learners WHERE id = ?').run(learner);
  }

  /** Newest first. */
  attempts(learner: string): AttemptRow[] {
    return (this.db.prepare('SELECT * FROM attempts WHERE learner = ? ORDER BY started DESC, rowid DESC').all(learner) as Row[]).map(toAttempt);
  }

  /** The learner's latest attempt at the lab. */
  latest(learner: string, lab: string): AttemptRow | undefined {
    const row = this.db.prepare('SELECT * FROM attempts WHERE learner = ? AND lab = ? ORDER BY started DESC, rowid DESC LIMIT 1').get(learner, lab) as Row | undefined;
    return row ? toAttempt(row) : undefined;
  }

  get(id: string): AttemptRow | undefined {
    const row = this.db.prepare('SELECT * FROM attempts WHERE id = ?').get(id) as Row | undefined;
    return row ? toAttempt(row) : undefined;
  }

  /**
   * Adds an attempt; the learner's unfinished ones at this lab become `left`, and beyond `keepPerLab`
   * (and `maxAll` in all) the oldest are deleted. One transaction: two starts at once cannot both skip the trim.
   */
  insert(a: AttemptRow, keepPerLab: number, maxAll: number): void {
    this.db.transaction(() => {
      this.db.prepare(`UPDATE attempts SET state = 'left' WHERE learner = ? AND lab = ? AND state = 'in-progress'`).run(a.learner, a.lab);
      this.db.prepare(`INSERT INTO attempts (id, learner, lab, title, version, state, passed, session, started, updated, finished, completion)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)`)
        .run(a.id, a.learner, a.lab, a.title, a.version, a.state, JSON.stringify(a.passedAt), a.session, a.startedAt, a.updatedAt);
      this.db.prepare(`DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE learner = ? AND lab = ?
        ORDER BY started DESC, rowid DESC LIMIT -1 OFFSET ?)`).run(a.learner, a.lab, keepPerLab);
      const total = (this.db.prepare('SELECT COUNT(*) AS n FROM attempts').get() as { n: number }).n;
      if (total > maxAll) this.db.prepare('DELETE FROM attempts WHERE id IN (SELECT id FROM attempts ORDER BY updated LIMIT ?)').run(total - maxAll);
    })();
  }

  /** Steps passed and state. A row erased meanwhile (the learner erased their history) stays erased, and a `left` one (started over) stays as it was. */
  update(id: string, change: { passedAt: Array<number | null>; state: AttemptState; session?: string; finishedAt?: number; completion?: string }): boolean {
    const result = this.db.prepare(`UPDATE attempts SET passed = ?, state = ?, session = COALESCE(?, session), updated = ?,
        finished = COALESCE(?, finished), completion = COALESCE(?, completion) WHERE id = ? AND state != 'left'`)
      .run(JSON.stringify(change.passedAt), change.state, change.session ?? null, Date.now(), change.finishedAt ?? null, change.completion ?? null, id);
    return result.changes > 0;
  }

  /** Erases everything kept about the learner (their completions stop verifying: their attempts are gone). */
  erase(learner: string): number {
    return this.db.transaction(() => {
      this.db.prepare('DELETE FROM learners WHERE id = ?').run(learner);
      return this.db.prepare('DELETE FROM attempts WHERE learner = ?').run(learner).changes;
    })();
  }

  /** Deletes attempts and names untouched since `before`; returns the attempts deleted. */
  sweep(before: number): number {
    this.db.prepare('DELETE FROM learners WHERE updated < ? AND id NOT IN (SELECT learner FROM attempts WHERE updated >= ?)').run(before, before);
    return this.db.prepare('DELETE FROM attempts WHERE updated < ?').run(before).changes;
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM attempts').get() as { n: number }).n;
  }

  close(): void { this.db.close(); }
}
