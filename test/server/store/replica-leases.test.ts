// Replica leases on both databases: servers sharing an instance see each other while they renew
// their leases, and stop seeing one that left or stopped renewing (crashed, lost the database).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReplicaLeases } from '../../../server/store/replica-leases.js';
import { backends } from './backends.js';

const failOnError = (err: Error): void => { throw err; };

/** Polls `fn` until it holds (state another connection renews or lets lapse), failing after `ms`. */
async function until(what: string, fn: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

for (const backend of backends) {
  describe(`replica leases on ${backend.name}`, () => {
    // SQLite's file is one server's: a second process on it is that server restarted, not a replica.
    if (backend.name === 'sqlite') test('on SQLite a server is alone: another process on the file is its restart, and nothing of it is spared', async () => {
      const { connect } = await backend.fresh();
      const before = await ReplicaLeases.take(connect(), 'lab', 'before-crash', 60_000, failOnError);
      const after = await ReplicaLeases.take(connect(), 'lab', 'after-restart', 60_000, failOnError);
      assert.deepEqual([...(await after.others())], []);
      assert.deepEqual([...(await after.live())], ['after-restart']);
      await before.leave();
      await after.leave();
    });

    if (backend.name === 'postgres') test('replicas of one instance see each other, not other instances; one that leaves is gone at once', async () => {
      const { connect } = await backend.fresh();
      const a = await ReplicaLeases.take(connect(), 'lab', 'a', 60_000, failOnError);
      const b = await ReplicaLeases.take(connect(), 'lab', 'b', 60_000, failOnError);
      const other = await ReplicaLeases.take(connect(), 'elsewhere', 'c', 60_000, failOnError);
      assert.deepEqual([...(await a.live())].sort(), ['a', 'b']);
      assert.deepEqual([...(await a.others())], ['b']);
      assert.deepEqual([...(await other.others())], []);
      await b.leave();
      assert.deepEqual([...(await a.others())], []);
      await a.leave();
      await other.leave();
    });

    if (backend.name === 'postgres') test('a replica that stops renewing its lease lapses after three beats; a live one never does', async () => {
      const { connect } = await backend.fresh();
      const beatMs = 150;
      const live = await ReplicaLeases.take(connect(), 'lab', 'live', beatMs, failOnError);
      const crashedDb = connect();
      const errors: Error[] = [];
      const crashed = await ReplicaLeases.take(crashedDb, 'lab', 'crashed', beatMs, (err) => errors.push(err));
      assert.ok((await live.others()).has('crashed'));
      // Its database connection gone, as with a server that died: no more renewals.
      await crashedDb.close();
      const since = Date.now();
      await until('the crashed replica\'s lease to lapse', async () => !(await live.others()).has('crashed'));
      assert.ok(Date.now() - since >= 2 * beatMs, 'a lease holds for three beats after its last renewal');
      // Renewed four times more, the live one is still live, as seen from yet another server.
      const peek = connect();
      const observer = await ReplicaLeases.take(peek, 'lab', 'observer', beatMs, failOnError);
      const renewals = new Set<number>();
      const seenOfLive = async () => (await peek.get<{ seen: number }>("SELECT seen FROM replicas WHERE id = 'live'"))!.seen;
      await until('four renewals of the live lease', async () => renewals.add(Number(await seenOfLive())).size > 4);
      assert.deepEqual([...(await observer.others())].sort(), ['live']);
      assert.ok(errors.length > 0, 'the crashed replica\'s renewals failed');
      await crashed.leave().catch(() => {});
      await live.leave();
      await observer.leave();
    });

    test('a lease of a replica gone for a day is deleted, so the table does not grow with restarts', async () => {
      const { connect } = await backend.fresh();
      const db = connect();
      const a = await ReplicaLeases.take(db, 'lab', 'a', 60_000, failOnError);
      for (let i = 0; i < 20; i++) await db.run('INSERT INTO replicas (instance, id, seen) VALUES (?, ?, ?)', ['lab', `old${i}`, Date.now() - 25 * 3600_000]);
      assert.deepEqual([...(await a.others())], []);
      const rows = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM replicas');
      assert.equal(Number(rows!.n), 1);
      await a.leave();
    });
  });
}
