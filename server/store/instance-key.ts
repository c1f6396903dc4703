// A secret the replicas of an instance share without anyone configuring it: the first server to
// ask makes it, in the database they share, and every later one reads the same. Replicas sign
// what they hand each other with it (view tickets another replica redeems); whoever can read the
// database is a replica already.
import crypto from 'node:crypto';
import type { Database } from './database.js';
import { migrate } from './schema.js';

export async function instanceKey(db: Database, instance: string, purpose: string): Promise<Buffer> {
  await migrate(db, 'replicas');
  await db.run('INSERT INTO instance_keys (instance, purpose, secret) VALUES (?, ?, ?) ON CONFLICT (instance, purpose) DO NOTHING',
    [instance, purpose, crypto.randomBytes(32).toString('base64')]);
  const row = await db.get<{ secret: string }>('SELECT secret FROM instance_keys WHERE instance = ? AND purpose = ?', [instance, purpose]);
  return Buffer.from(row!.secret, 'base64');
}
