// The SQLite adapter (better-sqlite3): a file in WAL mode. better-sqlite3 is synchronous, so a call
// is done as soon as its turn comes. A transaction spans awaits, though, and another connection to
// the same file waiting for its lock would block the whole thread (busy timeout) while it holds it:
// so in this process every connection to one file takes turns through one gate, and a transaction
// holds the gate until it ends. Other processes wait on the file's lock (BEGIN IMMEDIATE) as before.
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { checkNotify, type Database, type NotifyListener, type Param, type Queryable, type Transaction } from './database.js';

/** The calls of this process's connections to one file: none runs while a transaction is open. */
class Gate {
  /** Resolves when the transaction open now (or queued last) has ended. */
  idle: Promise<unknown> = Promise.resolve();
  open = false;
  users = 0;
  /** listen()/notify() between this process's connections to the file: on SQLite the server is alone. */
  readonly channels = new Map<string, Set<NotifyListener>>();
}

const gates = new Map<string, Gate>();

export class SqliteDatabase implements Database {
  readonly dialect = 'sqlite';
  private readonly db: BetterSqlite3.Database;
  private readonly gate: Gate;
  private readonly key: string;

  /**
   * Opens (making its folder) a database file. Other processes' connections to the same file wait
   * for each other's locks rather than fail: transactions are short.
   */
  constructor(file: string) {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new BetterSqlite3(file, { timeout: 15_000 });
    this.db.pragma('journal_mode = WAL');
    this.key = file === ':memory:' ? `:memory:${Math.random()}` : path.resolve(file);
    this.gate = gates.get(this.key) ?? new Gate();
    this.gate.users++;
    gates.set(this.key, this.gate);
  }

  async all<T>(sql: string, params: Param[] = []): Promise<T[]> {
    await this.turn();
    return this.db.prepare(sql).all(...params) as T[];
  }

  async get<T>(sql: string, params: Param[] = []): Promise<T | undefined> {
    await this.turn();
    return this.db.prepare(sql).get(...params) as T | undefined;
  }

  async run(sql: string, params: Param[] = []): Promise<{ changes: number }> {
    await this.turn();
    return { changes: this.db.prepare(sql).run(...params).changes };
  }

  /** Runs several statements (schemas). */
  async exec(sql: string): Promise<void> {
    await this.turn();
    this.db.exec(sql);
  }

  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    const gate = this.gate;
    const result = gate.idle.then(async () => {
      gate.open = true;
      try {
        this.db.exec('BEGIN IMMEDIATE');
        try {
          const value = await fn(this.inside());
          this.db.exec('COMMIT');
          return value;
        } catch (err) {
          if (this.db.inTransaction) this.db.exec('ROLLBACK');
          throw err;
        }
      } finally {
        gate.open = false;
      }
    });
    gate.idle = result.catch(() => undefined);
    return result;
  }

  async listen(channel: string, listener: NotifyListener): Promise<() => void> {
    checkNotify(channel);
    let set = this.gate.channels.get(channel);
    if (!set) this.gate.channels.set(channel, set = new Set());
    set.add(listener);
    const channels = this.gate.channels;
    return () => {
      set.delete(listener);
      if (set.size === 0 && channels.get(channel) === set) channels.delete(channel);
    };
  }

  async notify(channel: string, payload: string): Promise<void> {
    checkNotify(channel, payload);
    const listeners = [...this.gate.channels.get(channel) ?? []];
    // Later, as PostgreSQL delivers: a listener never runs inside the notifier's call.
    setImmediate(() => {
      for (const l of listeners) {
        try {
          l.onNotify(payload);
        } catch { /* one listener's failure is its own */ }
      }
    });
  }

  async close(): Promise<void> {
    await this.turn();
    if (!this.db.open) return;
    this.db.close();
    if (--this.gate.users === 0 && gates.get(this.key) === this.gate) gates.delete(this.key);
  }

  /** Waits while a transaction of this process is open on the file (or queued before this call). */
  private async turn(): Promise<void> {
    while (this.gate.open) await this.gate.idle;
  }

  /** The transaction's own calls: they run at once (it holds the gate). SQLite's transactions are serial already, so locks are no-ops. */
  private inside(): Transaction {
    const db = this.db;
    const calls: Queryable = {
      all: async <T>(sql: string, params: Param[] = []) => db.prepare(sql).all(...params) as T[],
      get: async <T>(sql: string, params: Param[] = []) => db.prepare(sql).get(...params) as T | undefined,
      run: async (sql: string, params: Param[] = []) => ({ changes: db.prepare(sql).run(...params).changes }),
    };
    return { ...calls, lock: async () => {} };
  }
}
