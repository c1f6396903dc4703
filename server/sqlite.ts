// The server's SQLite file (var/termlab.db): lab progress, workshops and learners' history keep
// their rows in it, each store on a connection of its own.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/**
 * Opens (making its folder) a database file in WAL mode. The other stores, and other servers'
 * in tests, write the same file: a connection waits for their locks rather than fail (writes are
 * single small rows or short transactions, so waits are short).
 */
export function openDatabase(file: string): Database.Database {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file, { timeout: 15_000 });
  db.pragma('journal_mode = WAL');
  return db;
}
