// Learners' attempts at labs, in the same database as session progress and workshops (SQLite or
// PostgreSQL, server/store/): one row per attempt, one per learner who gave a name. Every table is bounded: attempts
// per learner and lab, attempts in all, and a retention after which untouched rows go.
import type { Database } from '../store/database.js';
import { migrate } from '../store/schema.js';

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
  private constructor(private readonly db: Database) {}

  static async open(db: Database): Promise<HistoryStore> {
    await migrate(db, 'history');
    return new HistoryStore(db);
  }

  async name(learner: string): Promise<string> {
    const row = await this.db.get<{ name: string }>('SELECT name FROM learners WHERE id = ?', [learner]);
    return row?.name ?? '';
  }

  async setName(learner: string, name: string): Promise<void> {
    if (name) await this.db.run('INSERT INTO learners (id, name, updated) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, updated = excluded.updated', [learner, name, Date.now()]);
    else await this.db.run('DELETE FROM learners WHERE id = ?', [learner]);
  }

  /** Newest first. */
  async attempts(learner: string): Promise<AttemptRow[]> {
    return (await this.db.all<Row>('SELECT * FROM attempts WHERE learner = ? ORDER BY started DESC, rowid DESC', [learner])).map(toAttempt);
  }

  /** The learner's latest attempt at the lab. */
  async latest(learner: string, lab: string): Promise<AttemptRow | undefined> {
    const row = await this.db.get<Row>('SELECT * FROM attempts WHERE learner = ? AND lab = ? ORDER BY started DESC, rowid DESC LIMIT 1', [learner, lab]);
    return row ? toAttempt(row) : undefined;
  }

  /** The unfinished attempt this session runs (another replica's session being adopted). */
  async inSession(session: string): Promise<AttemptRow | undefined> {
    const row = await this.db.get<Row>("SELECT * FROM attempts WHERE session = ? AND state = 'in-progress' LIMIT 1", [session]);
    return row ? toAttempt(row) : undefined;
  }

  async get(id: string): Promise<AttemptRow | undefined> {
    const row = await this.db.get<Row>('SELECT * FROM attempts WHERE id = ?', [id]);
    return row ? toAttempt(row) : undefined;
  }

  /**
   * Adds an attempt; the learner's unfinished ones at this lab become `left`, and beyond `keepPerLab`
   * (and `maxAll` in all) the oldest are deleted. One transaction holding the attempts' lock (the cap
   * in all counts everyone's): two starts at once, on any servers, cannot both skip the trim. Starts
   * are rare (limited per address), so one at a time costs nothing.
   */
  async insert(a: AttemptRow, keepPerLab: number, maxAll: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.lock('history:attempts');
      await tx.run(`UPDATE attempts SET state = 'left' WHERE learner = ? AND lab = ? AND state = 'in-progress'`, [a.learner, a.lab]);
      await tx.run(`INSERT INTO attempts (id, learner, lab, title, version, state, passed, session, started, updated, finished, completion)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)`,
      [a.id, a.learner, a.lab, a.title, a.version, a.state, JSON.stringify(a.passedAt), a.session, a.startedAt, a.updatedAt]);
      await tx.run(`DELETE FROM attempts WHERE learner = ? AND lab = ? AND id NOT IN (SELECT id FROM attempts WHERE learner = ? AND lab = ?
        ORDER BY started DESC, rowid DESC LIMIT ?)`, [a.learner, a.lab, a.learner, a.lab, keepPerLab]);
      const total = (await tx.get<{ n: number }>('SELECT COUNT(*) AS n FROM attempts'))!.n;
      if (total > maxAll) await tx.run('DELETE FROM attempts WHERE id IN (SELECT id FROM attempts ORDER BY updated LIMIT ?)', [total - maxAll]);
    });
  }

  /** Steps passed and state. A row erased meanwhile (the learner erased their history) stays erased, and a `left` one (started over) stays as it was. */
  async update(id: string, change: { passedAt: Array<number | null>; state: AttemptState; session?: string; finishedAt?: number; completion?: string }): Promise<boolean> {
    const result = await this.db.run(`UPDATE attempts SET passed = ?, state = ?, session = COALESCE(?, session), updated = ?,
        finished = COALESCE(?, finished), completion = COALESCE(?, completion) WHERE id = ? AND state != 'left'`,
    [JSON.stringify(change.passedAt), change.state, change.session ?? null, Date.now(), change.finishedAt ?? null, change.completion ?? null, id]);
    return result.changes > 0;
  }

  /** Erases everything kept about the learner (their completions stop verifying: their attempts are gone). */
  erase(learner: string): Promise<number> {
    return this.db.transaction(async (tx) => {
      await tx.run('DELETE FROM learners WHERE id = ?', [learner]);
      return (await tx.run('DELETE FROM attempts WHERE learner = ?', [learner])).changes;
    });
  }

  /** Deletes attempts and names untouched since `before`; returns the attempts deleted. Several servers may sweep at once. */
  async sweep(before: number): Promise<number> {
    await this.db.run('DELETE FROM learners WHERE updated < ? AND id NOT IN (SELECT learner FROM attempts WHERE updated >= ?)', [before, before]);
    return (await this.db.run('DELETE FROM attempts WHERE updated < ?', [before])).changes;
  }

  async count(): Promise<number> {
    return (await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM attempts'))!.n;
  }
}
