// A real PostgreSQL server for tests: initdb'd in a temp folder, listening only on a Unix socket
// there, run as the `postgres` user when the tests run as root (postgres refuses root), and
// stopped and removed at the end. Binaries: Debian's /usr/lib/postgresql/<version>/bin
// (scripts/system-deps.sh test installs `postgresql`), or TERMLAB_PG_BIN.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface PostgresServer {
  /** A new, empty database; resolves to its URL. */
  createDatabase(): Promise<string>;
  stop(): void;
}

function binDir(): string {
  if (process.env.TERMLAB_PG_BIN) return process.env.TERMLAB_PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error(`no PostgreSQL server under ${root}: run scripts/system-deps.sh test (it installs Debian's postgresql)`);
  return path.join(root, versions[0], 'bin');
}

/** Runs a server binary as `postgres` when we are root. */
function asOwner(bin: string, args: string[]): void {
  const command = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] as const : [bin, args] as const;
  execFileSync(command[0], [...command[1]], { stdio: ['ignore', 'pipe', 'pipe'] });
}

export function startPostgres(): PostgresServer {
  const bin = binDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'termlab-pg-'));
  const data = path.join(dir, 'data');
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    fs.chownSync(dir, uid, gid);
  }
  asOwner(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  // Only a Unix socket in the temp folder: nothing else on the machine can reach it, and no port can clash.
  const options = `-k ${dir} -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100`;
  // -w: returns once the server accepts connections.
  asOwner(path.join(bin, 'pg_ctl'), ['-D', data, '-o', options, '-l', path.join(dir, 'log'), '-w', '-t', '60', 'start']);
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    process.off('exit', stop);
    try {
      asOwner(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  // A test file that ends without stop() still leaves no server behind.
  process.on('exit', stop);
  // No host part (the socket's folder is a parameter): a user before an empty host is not a valid URL.
  const url = (db: string): string => `postgresql:///${db}?host=${encodeURIComponent(dir)}&user=postgres`;
  return {
    async createDatabase() {
      const name = `t_${crypto.randomBytes(6).toString('hex')}`;
      const client = new pg.Client({ connectionString: url('postgres') });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    stop,
  };
}

/**
 * Rows inserted, updated or deleted and transactions committed in a database so far, as PostgreSQL
 * counts them (a backend reports when it goes idle, up to 10 s late: read after the load has stopped for that long).
 */
export async function databaseWrites(url: string): Promise<{ rows: number; commits: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query('SELECT tup_inserted + tup_updated + tup_deleted AS rows, xact_commit AS commits FROM pg_stat_database WHERE datname = current_database()');
    return { rows: Number(r.rows[0].rows), commits: Number(r.rows[0].commits) };
  } finally {
    await client.end();
  }
}
