// The database port every store is written against, once: SQLite (embedded, the default) or
// PostgreSQL (TERMLAB_DATABASE_URL, shared by several servers). Stores write portable SQL with `?`
// placeholders; each adapter handles what differs (placeholders, integer types, locking).
import crypto from 'node:crypto';

/** A Buffer is bytes: BYTEA on PostgreSQL (recordings' chunks), BLOB on SQLite. */
export type Param = string | number | null | Buffer;

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

/** What hears a channel: each payload, and `onResync` when some may have been lost (a dropped connection, re-made). */
export interface NotifyListener {
  onNotify(payload: string): void;
  onResync?(): void;
}

/** A channel: a plain identifier, so it is never quoted from anything a request carried. */
export const CHANNEL = /^[a-z][a-z0-9_]{0,62}$/;

/**
 * The channel for `purpose` within an instance: a plain identifier whatever TERMLAB_INSTANCE holds,
 * so replicas of other instances sharing the database hear none of it.
 */
export function instanceChannel(purpose: string, instance: string): string {
  return `termlab_${purpose}_${crypto.createHash('sha256').update(instance).digest('hex').slice(0, 16)}`;
}
/** The longest payload notify() sends (PostgreSQL's limit is 8000 bytes; ours are ids and numbers). */
export const MAX_PAYLOAD = 1000;

export interface Database extends Queryable {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  /**
   * Hears `channel` on every server sharing the database, this one included (PostgreSQL LISTEN on a
   * connection of its own, re-made when it drops; on SQLite, one server, an in-process emitter).
   * Resolves once listening, to the function that stops it. A payload is a hint to read rows by,
   * never a fact to act on.
   */
  listen(channel: string, listener: NotifyListener): Promise<() => void>;
  /** Sends `payload` (at most MAX_PAYLOAD bytes) to the channel's listeners, after any open transaction of the caller's. */
  notify(channel: string, payload: string): Promise<void>;
  close(): Promise<void>;
}

/** Refuses a channel that is no plain identifier and a payload past the bound (a bug, not a request's fault). */
export function checkNotify(channel: string, payload?: string): void {
  if (!CHANNEL.test(channel)) throw new Error(`not a channel name: ${JSON.stringify(channel)}`);
  if (payload !== undefined && Buffer.byteLength(payload) > MAX_PAYLOAD) throw new Error(`a ${Buffer.byteLength(payload)}-byte payload is past ${MAX_PAYLOAD}`);
}
