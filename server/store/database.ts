// The database port every store is written against, once: SQLite (embedded, the default) or
// PostgreSQL (TERMLAB_DATABASE_URL, shared by several servers). Stores write portable SQL with `?`
// placeholders; each adapter handles what differs (placeholders, integer types, locking).

export type Param = string | number | null;

export interface Queryable {
  all<T>(sql: string, params?: Param[]): Promise<T[]>;
  get<T>(sql: string, params?: Param[]): Promise<T | undefined>;
  /** `changes`: rows the statement inserted, updated or deleted. */
  run(sql: string, params?: Param[]): Promise<{ changes: number }>;
}

export interface Transaction extends Queryable {
  /**
   * Holds `key` until the transaction ends: transactions that lock the same key, on any server
   * sharing the database, run one after the other (a read-then-write under a cap stays under it).
   */
  lock(key: string): Promise<void>;
}

export interface Database extends Queryable {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
