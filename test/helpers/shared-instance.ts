// Lab servers as replicas of one instance: one PostgreSQL database and one instance name between
// them, and a state folder each (as separate pods have). Every folder is removed with `remove()`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../server/config.js';
import type { LabServer } from '../../server/lab-server.js';
import { startTestServer, testInstance } from './lab-server.js';
import type { PostgresServer } from './postgres.js';

export interface SharedInstance {
  databaseUrl: string;
  instance: string;
  /** The state folder of the replica of this name (made on first use). */
  stateDir(name: string): string;
  /** Starts an in-process replica named `name` (its TERMLAB_REPLICA too unless overridden). */
  start(name: string, overrides?: Partial<Config>): Promise<LabServer>;
  remove(): void;
}

export async function sharedInstance(pg: PostgresServer): Promise<SharedInstance> {
  const databaseUrl = await pg.createDatabase();
  const instance = testInstance();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-replicas-'));
  const stateDir = (name: string): string => path.join(root, name);
  return {
    databaseUrl, instance, stateDir,
    start: (name, overrides = {}) => startTestServer({ databaseUrl, instance, replica: name, stateDir: stateDir(name), ...overrides }),
    remove: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}
