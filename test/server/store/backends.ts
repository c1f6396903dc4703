// The stores' contract tests run the same bodies on both databases: `backends` gives, per backend,
// a fresh database and a way to open more connections to it (each one stands for another server
// sharing it: its own SQLite connection to the file, its own PostgreSQL pool).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import type { Database } from '../../../server/store/database.js';
import { PostgresDatabase } from '../../../server/store/postgres.js';
import { SqliteDatabase } from '../../../server/store/sqlite.js';
import { startPostgres, type PostgresServer } from '../../helpers/postgres.js';

export interface Backend {
  name: 'sqlite' | 'postgres';
  /** A new empty database; `connect()` opens one more connection (a server) to it; all are closed after the file's tests. */
  fresh(): Promise<{ connect: () => Database }>;
}

let server: PostgresServer | undefined;
const opened: Database[] = [];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'termlab-store-'));
let files = 0;

after(async () => {
  for (const db of opened) await db.close();
  server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function track(db: Database): Database {
  opened.push(db);
  return db;
}

export const backends: Backend[] = [
  {
    name: 'sqlite',
    async fresh() {
      const file = path.join(dir, `${++files}.db`);
      return { connect: () => track(new SqliteDatabase(file)) };
    },
  },
  {
    name: 'postgres',
    async fresh() {
      server ??= startPostgres();
      const url = await server.createDatabase();
      return { connect: () => track(new PostgresDatabase(url)) };
    },
  },
];
