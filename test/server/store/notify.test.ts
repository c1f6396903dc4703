// listen()/notify() on both databases: every connection (server) listening hears a notification,
// the sender included; channels and payloads are bounded; on PostgreSQL a LISTEN connection that
// drops is made again, its listeners are told to resync, and later notifications arrive.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Database } from '../../../server/store/database.js';
import { PostgresDatabase } from '../../../server/store/postgres.js';
import { until } from '../../helpers/lab-server.js';
import { backends } from './backends.js';

function collect(db: Database, channel: string): Promise<{ heard: string[]; resyncs: number[]; off: () => void }> {
  const out = { heard: [] as string[], resyncs: [0], off: () => {} };
  return db.listen(channel, { onNotify: (p) => out.heard.push(p), onResync: () => { out.resyncs[0]!++; } }).then((off) => ({ ...out, off }));
}

for (const backend of backends) {
  describe(`listen and notify on ${backend.name}`, () => {
    test('every server listening hears, the sender included; other channels do not', async () => {
      const { connect } = await backend.fresh();
      const a = connect();
      const b = connect();
      const onA = await collect(a, 'termlab_t1');
      const onB = await collect(b, 'termlab_t1');
      const other = await collect(b, 'termlab_t2');
      await a.notify('termlab_t1', 'e.abc.1');
      await b.notify('termlab_t1', 'w.abc');
      await until('both heard both', () => onA.heard.length === 2 && onB.heard.length === 2);
      assert.deepEqual(onA.heard, ['e.abc.1', 'w.abc']);
      assert.deepEqual(onB.heard, ['e.abc.1', 'w.abc']);
      onB.off();
      await a.notify('termlab_t1', 'after');
      await until('a heard the third', () => onA.heard.length === 3);
      assert.equal(onB.heard.length, 2, 'stopped listening');
      assert.deepEqual(other.heard, []);
    });

    test('a channel must be a plain name and a payload short', async () => {
      const db = (await backend.fresh()).connect();
      await assert.rejects(db.listen('x; DROP TABLE y', { onNotify: () => {} }), /not a channel name/);
      await assert.rejects(db.notify('Bad-Name', 'x'), /not a channel name/);
      await assert.rejects(db.notify('termlab_t3', 'x'.repeat(1001)), /past 1000/);
    });
  });
}

test('on PostgreSQL a dropped LISTEN connection is made again: listeners resync and hear later notifications', async () => {
  const postgres = backends.find((b) => b.name === 'postgres')!;
  const { connect } = await postgres.fresh();
  const db = connect() as PostgresDatabase;
  const onDb = await collect(db, 'termlab_t4');
  // An operator (or a failover) ends the listening backend.
  const killed = await db.pool.query(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
    WHERE application_name = 'termlab-listen' AND datname = current_database()`);
  assert.equal(killed.rowCount, 1);
  await until('the listener to resync', () => onDb.resyncs[0]! >= 1, 15_000);
  await db.notify('termlab_t4', 'later');
  await until('the later notification', () => onDb.heard.includes('later'));
  // Still one listening connection, not one more per drop.
  const { rows } = await db.pool.query<{ n: string }>(`SELECT COUNT(*) AS n FROM pg_stat_activity WHERE application_name = 'termlab-listen' AND datname = current_database()`);
  assert.equal(Number(rows[0]!.n), 1);
});
