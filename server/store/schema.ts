// Each store's tables, written once for both dialects: PostgreSQL's have 64-bit integers for epoch
// milliseconds and a `rowid` column where SQLite's implicit one orders rows. SQLite files made by
// earlier versions get the columns added since. Recordings' bytes are files beside SQLite's
// database (one server) and rows of `recording_chunks` in PostgreSQL's (every replica reads them:
// server/recordings/).
import type { Database } from './database.js';
import { SqliteDatabase } from './sqlite.js';

export type StorePart = 'progress' | 'history' | 'workshops' | 'recordings' | 'replicas' | 'sessions';

/** What differs between the dialects: epoch milliseconds, floats, and the column that orders rows. */
interface Types {
  millis: 'INTEGER' | 'BIGINT';
  real: 'REAL' | 'DOUBLE PRECISION';
  /** A column numbering rows in insertion order: SQLite's implicit `rowid`, made explicit on PostgreSQL. */
  rowid: (key: 'PRIMARY KEY' | 'UNIQUE') => string;
}

const SQLITE: Types = { millis: 'INTEGER', real: 'REAL', rowid: () => '' };
const POSTGRES: Types = { millis: 'BIGINT', real: 'DOUBLE PRECISION', rowid: (key) => `rowid BIGINT GENERATED ALWAYS AS IDENTITY ${key},` };

/** Every store's tables in their current shape, written once for both dialects. */
function tables(t: Types): Record<StorePart, string> {
  return {
    progress: `
      CREATE TABLE IF NOT EXISTS progress (
        session TEXT PRIMARY KEY, lab TEXT NOT NULL, current INTEGER NOT NULL,
        statuses TEXT NOT NULL, updated ${t.millis} NOT NULL);
      CREATE TABLE IF NOT EXISTS checks (${t.rowid('PRIMARY KEY')}
        session TEXT NOT NULL, lab TEXT NOT NULL, step INTEGER NOT NULL, passed INTEGER NOT NULL,
        source TEXT NOT NULL, ms ${t.millis} NOT NULL, at ${t.millis} NOT NULL);
      CREATE INDEX IF NOT EXISTS checks_session ON checks (session);`,
    history: `
      CREATE TABLE IF NOT EXISTS learners (id TEXT PRIMARY KEY, name TEXT NOT NULL, updated ${t.millis} NOT NULL);
      CREATE TABLE IF NOT EXISTS attempts (${t.rowid('UNIQUE')}
        id TEXT PRIMARY KEY, learner TEXT NOT NULL, lab TEXT NOT NULL, title TEXT NOT NULL, version TEXT NOT NULL,
        state TEXT NOT NULL, passed TEXT NOT NULL, session TEXT NOT NULL,
        started ${t.millis} NOT NULL, updated ${t.millis} NOT NULL, finished ${t.millis}, completion TEXT);
      CREATE INDEX IF NOT EXISTS attempts_learner ON attempts (learner, lab, started);
      CREATE INDEX IF NOT EXISTS attempts_updated ON attempts (updated);
      CREATE INDEX IF NOT EXISTS attempts_session ON attempts (session);`,
    workshops: `
      CREATE TABLE IF NOT EXISTS workshops (
        id TEXT PRIMARY KEY, code TEXT UNIQUE NOT NULL, title TEXT NOT NULL, labs TEXT NOT NULL, seats INTEGER NOT NULL,
        starts_at ${t.millis} NOT NULL, ends_at ${t.millis} NOT NULL, paced INTEGER NOT NULL, unlocked_step INTEGER,
        instructor_hash TEXT NOT NULL, assistant_hash TEXT NOT NULL, phase TEXT NOT NULL, created ${t.millis} NOT NULL,
        instance TEXT NOT NULL DEFAULT '');
      CREATE TABLE IF NOT EXISTS workshop_seats (
        workshop TEXT NOT NULL, seat TEXT NOT NULL, learner TEXT NOT NULL, name TEXT NOT NULL, joined_at ${t.millis} NOT NULL,
        session TEXT, lab TEXT NOT NULL, hand INTEGER NOT NULL, steps TEXT NOT NULL, recordings TEXT NOT NULL,
        past TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (workshop, seat), UNIQUE (workshop, learner));
      CREATE TABLE IF NOT EXISTS workshop_events (
        workshop TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL, at ${t.millis} NOT NULL,
        PRIMARY KEY (workshop, seq));`,
    recordings: `
      CREATE TABLE IF NOT EXISTS recordings (
        id TEXT PRIMARY KEY, share TEXT UNIQUE NOT NULL, owner TEXT NOT NULL, lab TEXT NOT NULL, session TEXT NOT NULL,
        terminal TEXT NOT NULL, title TEXT NOT NULL, created ${t.millis} NOT NULL, duration ${t.real} NOT NULL DEFAULT 0,
        bytes ${t.millis} NOT NULL DEFAULT 0, input INTEGER NOT NULL, state TEXT NOT NULL, stopped TEXT,
        cap ${t.millis} NOT NULL DEFAULT 0);
      CREATE INDEX IF NOT EXISTS recordings_owner ON recordings (owner, lab);`,
    replicas: `
      CREATE TABLE IF NOT EXISTS replicas (
        instance TEXT NOT NULL, id TEXT NOT NULL, seen ${t.millis} NOT NULL, address TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (instance, id));
      CREATE TABLE IF NOT EXISTS instance_keys (
        instance TEXT NOT NULL, purpose TEXT NOT NULL, secret TEXT NOT NULL, PRIMARY KEY (instance, purpose));`,
    sessions: `
      CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY, instance TEXT NOT NULL, place TEXT NOT NULL, token_hash TEXT UNIQUE NOT NULL, lab TEXT NOT NULL,
        replica TEXT NOT NULL, boxes TEXT NOT NULL, created ${t.millis} NOT NULL, expires ${t.millis} NOT NULL,
        extensions_left INTEGER NOT NULL, extend_ms ${t.millis} NOT NULL, workshop TEXT);
      CREATE INDEX IF NOT EXISTS sessions_replica ON sessions (instance, replica);
      CREATE TABLE IF NOT EXISTS pool_boxes (
        session TEXT PRIMARY KEY, instance TEXT NOT NULL, place TEXT NOT NULL, profile TEXT NOT NULL, replica TEXT NOT NULL,
        box TEXT NOT NULL, created ${t.millis} NOT NULL);
      CREATE INDEX IF NOT EXISTS pool_boxes_profile ON pool_boxes (instance, place, profile, created);`,
  };
}

const sqlite = tables(SQLITE);
const postgres = tables(POSTGRES);

/** Columns SQLite files made by earlier versions lack: added at start. */
const sqliteAdded: Record<StorePart, Array<[table: string, column: string, declaration: string]>> = {
  progress: [],
  history: [],
  workshops: [['workshops', 'instance', "TEXT NOT NULL DEFAULT ''"], ['workshop_seats', 'past', "TEXT NOT NULL DEFAULT '{}'"]],
  recordings: [['recordings', 'stopped', 'TEXT'], ['recordings', 'cap', 'INTEGER NOT NULL DEFAULT 0']],
  replicas: [['replicas', 'address', "TEXT NOT NULL DEFAULT ''"]],
  sessions: [],
};

/**
 * PostgreSQL only: recordings' bytes (SQLite keeps them in files), and the column its databases
 * made by the previous version lack.
 */
const postgresAdded: Record<StorePart, string> = {
  progress: '', history: '', workshops: '', sessions: '',
  recordings: `
    CREATE TABLE IF NOT EXISTS recording_chunks (
      recording TEXT NOT NULL REFERENCES recordings (id) ON DELETE CASCADE, seq INTEGER NOT NULL,
      start BIGINT NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (recording, seq));`,
  replicas: `
    ALTER TABLE replicas ADD COLUMN IF NOT EXISTS address TEXT NOT NULL DEFAULT '';`,
};

/** Makes `part`'s tables in `db` (idempotent; several servers may do it at once). */
export async function migrate(db: Database, part: StorePart): Promise<void> {
  if (db instanceof SqliteDatabase) {
    await db.exec(sqlite[part]);
    for (const [table, column, declaration] of sqliteAdded[part]) {
      const columns = (await db.all<{ name: string }>(`PRAGMA table_info(${table})`)).map((c) => c.name);
      if (columns.includes(column)) continue;
      try {
        await db.run(`ALTER TABLE ${table} ADD COLUMN ${column} ${declaration}`);
      } catch (err) {
        // Another server on the same file added it first.
        if (!/duplicate column/i.test((err as Error).message)) throw err;
      }
    }
    return;
  }
  // CREATE ... IF NOT EXISTS run by two servers at once can still collide: one at a time.
  await db.transaction(async (tx) => {
    await tx.lock('termlab:schema');
    for (const statement of `${postgres[part]};${postgresAdded[part]}`.split(';').map((s) => s.trim()).filter(Boolean)) await tx.run(statement);
  });
}
