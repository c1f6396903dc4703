// The PostgreSQL adapter (node-postgres Pool): several servers share one database. Stores' `?`
// placeholders become `$1...`; 64-bit integers (epoch milliseconds, counts) come back as numbers;
// a transaction's lock is a transaction-scoped advisory lock on the key's hash.
import pg from 'pg';
import { checkNotify, type Database, type NotifyListener, type Param, type Queryable, type Transaction } from './database.js';
import { PgListener } from './pg-listener.js';

const INT8 = 20;
const NUMERIC = 1700;

/** Epoch milliseconds and counts fit a double exactly; pg would hand them over as strings. */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8 || oid === NUMERIC) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** `?` placeholders (outside quoted strings) to `$1`, `$2`... */
export function numbered(sql: string): string {
  let n = 0;
  let out = '';
  let quoted = false;
  for (const ch of sql) {
    if (ch === "'") quoted = !quoted;
    out += ch === '?' && !quoted ? `$${++n}` : ch;
  }
  return out;
}

function on(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    all: async <T>(sql: string, params: Param[] = []) => (await client.query(numbered(sql), params)).rows as T[],
    get: async <T>(sql: string, params: Param[] = []) => (await client.query(numbered(sql), params)).rows[0] as T | undefined,
    run: async (sql: string, params: Param[] = []) => ({ changes: (await client.query(numbered(sql), params)).rowCount ?? 0 }),
  };
}

export class PostgresDatabase implements Database {
  readonly dialect = 'postgres';
  readonly pool: pg.Pool;
  private readonly direct: Queryable;
  /** LISTEN's own connection, made on the first listen(). */
  private readonly listener: PgListener;

  constructor(url: string, options: { max?: number; onListenError?: (err: Error) => void } = {}) {
    this.pool = new pg.Pool({ connectionString: url, types, max: options.max ?? 10 });
    this.listener = new PgListener(url, options.onListenError);
    // An idle client losing its server (a restart) must not crash the process; the next query reconnects.
    this.pool.on('error', () => {});
    this.direct = on(this.pool);
  }

  all<T>(sql: string, params?: Param[]): Promise<T[]> { return this.direct.all<T>(sql, params); }
  get<T>(sql: string, params?: Param[]): Promise<T | undefined> { return this.direct.get<T>(sql, params); }
  run(sql: string, params?: Param[]): Promise<{ changes: number }> { return this.direct.run(sql, params); }

  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const tx: Transaction = {
        ...on(client),
        lock: async (key) => { await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [key]); },
      };
      const value = await fn(tx);
      await client.query('COMMIT');
      return value;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => { broken = e; });
      throw err;
    } finally {
      // A client that could not roll back is dropped, not handed to the next caller mid-transaction.
      client.release(broken);
    }
  }

  listen(channel: string, listener: NotifyListener): Promise<() => void> { return this.listener.listen(channel, listener); }

  async notify(channel: string, payload: string): Promise<void> {
    checkNotify(channel, payload);
    await this.pool.query('SELECT pg_notify($1, $2)', [channel, payload]);
  }

  private closing: Promise<void> | undefined;
  /** Ends the pool and the LISTEN connection; again, the same promise (a server and its stores may each close it). */
  close(): Promise<void> { return this.closing ??= Promise.all([this.listener.close(), this.pool.end()]).then(() => {}); }
}
