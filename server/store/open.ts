// Which database the stores use: PostgreSQL when TERMLAB_DATABASE_URL names one (servers sharing
// it share everything), else SQLite files in the state folder.
import path from 'node:path';
import type { Database } from './database.js';
import { PostgresDatabase } from './postgres.js';
import { SqliteDatabase } from './sqlite.js';

export interface Databases {
  /** Lab progress, history and workshops (SQLite: var/termlab.db). */
  main: Database;
  /** Recordings' metadata (SQLite: var/recordings.db, beside the files). */
  recordings: Database;
  close(): Promise<void>;
}

export async function openDatabases(config: { stateDir: string; databaseUrl?: string }): Promise<Databases> {
  if (config.databaseUrl) {
    const db = new PostgresDatabase(config.databaseUrl);
    try {
      await db.get('SELECT 1');
    } catch (err) {
      await db.close().catch(() => {});
      const url = new URL(config.databaseUrl);
      const where = `${url.hostname || url.searchParams.get('host')}${url.port ? `:${url.port}` : ''}, database ${url.pathname.slice(1)}`;
      throw new Error(`cannot reach the PostgreSQL database of TERMLAB_DATABASE_URL (${where}): ${(err as Error).message}; ` +
        'check that the server runs and accepts this user, or unset TERMLAB_DATABASE_URL to use SQLite');
    }
    return { main: db, recordings: db, close: () => db.close() };
  }
  const main = new SqliteDatabase(path.join(config.stateDir, 'termlab.db'));
  const recordings = new SqliteDatabase(path.join(config.stateDir, 'recordings.db'));
  return { main, recordings, close: async () => { await main.close(); await recordings.close(); } };
}
