// Sessions and pre-started boxes in the database, on both databases, with each connection standing
// for a replica: ownership moves by compare-and-set, boxes are destroyed by exactly one replica, a
// sweep never deletes a session a live replica adopted, and every pre-started box is handed out once.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BoxHandle } from '../../../server/sandbox/sandbox-driver.js';
import { SessionRecords, type SessionRecord } from '../../../server/sessions/session-records.js';
import { WarmPool } from '../../../server/sessions/warm-pool.js';
import { backends } from './backends.js';

const here = (): string => 'docker:engine-1';
const box = (session: string): BoxHandle => ({ id: `c-${session}`, session, profile: 'shell' });
const record = (id: string): SessionRecord => ({
  id, lab: 'hello', boxes: { lab: box(id) }, createdAt: 1000, expiresAt: 2000, extensionsLeft: 2, extendMs: 60_000,
});

for (const backend of backends) {
  describe(`session records on ${backend.name}`, () => {
    test('a replica adopts another\'s session by its token\'s hash; then only the adopter may destroy its boxes', async () => {
      const { connect } = await backend.fresh();
      const a = await SessionRecords.open(connect(), 'lab', 'gw-a', here);
      const b = await SessionRecords.open(connect(), 'lab', 'gw-b', here);
      const elsewhere = await SessionRecords.open(connect(), 'lab', 'gw-e', () => 'docker:engine-2');
      await a.save('hash-1', record('s1'));
      assert.equal(await b.adopt('no-such-hash'), undefined);
      assert.equal(await elsewhere.adopt('hash-1'), undefined, 'a replica on another engine cannot reach the boxes');
      const adopted = await b.adopt('hash-1');
      assert.deepEqual(adopted, record('s1'));
      assert.equal(await a.release('s1'), 'taken', 'the old owner lets it go without destroying');
      assert.equal(await b.release('s1'), 'destroy');
      assert.equal(await b.adopt('hash-1'), undefined, 'an ended session cannot be adopted');
      assert.equal(await a.release('never-saved'), 'destroy', 'without a row (a save that failed) the boxes are still destroyed');
    });

    test('an extended lifetime is what an adopter gets', async () => {
      const { connect } = await backend.fresh();
      const a = await SessionRecords.open(connect(), 'lab', 'gw-a', here);
      const b = await SessionRecords.open(connect(), 'lab', 'gw-b', here);
      await a.save('hash-2', record('s2'));
      await a.saveLifetime('s2', 5000, 1);
      const adopted = await b.adopt('hash-2');
      assert.equal(adopted?.expiresAt, 5000);
      assert.equal(adopted?.extensionsLeft, 1);
    });

    if (backend.name === 'postgres') test('a sweep racing adoptions: every adopted session is spared, every other row of the dead replica goes', async () => {
      const { connect } = await backend.fresh();
      const dead = await SessionRecords.open(connect(), 'lab', 'gw-dead', here);
      const adopter = await SessionRecords.open(connect(), 'lab', 'gw-live', here);
      const sweeper = await SessionRecords.open(connect(), 'lab', 'gw-sweeper', here);
      const ids = Array.from({ length: 40 }, (_, i) => `s${i}`);
      for (const id of ids) await dead.save(`h-${id}`, record(id));
      const live = new Set(['gw-live', 'gw-sweeper']);
      const [spared, ...adopted] = await Promise.all([sweeper.spareFor(live), ...ids.map((id) => adopter.adopt(`h-${id}`))]);
      const got = ids.filter((_, i) => adopted[i] !== undefined);
      for (const id of got) assert.ok(spared!.has(id), `${id} was adopted, so the sweep must leave its boxes`);
      // What the sweep did not spare is gone for good: nobody can adopt it any more.
      for (const id of ids.filter((i) => !spared!.has(i))) assert.equal(await adopter.adopt(`h-${id}`), undefined);
      assert.deepEqual(await sweeper.spareFor(live), new Set(got), 'afterwards only the adopted rows are left');
    });

    test('two replicas claiming from one pool at once get each box exactly once; a dead maker\'s boxes are forgotten', async () => {
      const { connect } = await backend.fresh();
      const a = await WarmPool.open(connect(), 'lab', 'gw-a', here);
      const b = await WarmPool.open(connect(), 'lab', 'gw-b', here);
      const elsewhere = await WarmPool.open(connect(), 'lab', 'gw-e', () => 'docker:engine-2');
      for (let i = 0; i < 10; i++) await a.add('shell', { session: `p${i}`, box: box(`p${i}`) });
      await b.add('docker', { session: 'd0', box: { ...box('d0'), profile: 'docker' } });
      assert.equal(await elsewhere.claim('shell'), undefined, 'another engine\'s boxes are not handed out');
      assert.deepEqual(await b.counts(), { all: { shell: 10, docker: 1 }, mine: { docker: 1 } });
      const claims = await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 ? a : b).claim('shell')));
      const got = claims.filter((c): c is NonNullable<typeof c> => c !== undefined).map((c) => c.session);
      assert.equal(got.length, 10);
      assert.equal(new Set(got).size, 10, 'no box handed out twice');
      assert.deepEqual(claims.find((c) => c)?.box, box(claims.find((c) => c)!.session));
      await b.forget(new Set(['gw-a']));
      assert.deepEqual((await a.counts()).all, {}, 'gw-b is gone: its box goes with its leftovers, not to a learner');
    });

    test('a stopping replica takes back only its own pre-started boxes', async () => {
      const { connect } = await backend.fresh();
      const a = await WarmPool.open(connect(), 'lab', 'gw-a', here);
      const b = await WarmPool.open(connect(), 'lab', 'gw-b', here);
      await a.add('shell', { session: 'a1', box: box('a1') });
      await b.add('shell', { session: 'b1', box: box('b1') });
      assert.deepEqual((await a.takeMine()).map((p) => p.session), ['a1']);
      assert.equal((await b.claim('shell'))?.session, 'b1');
    });
  });
}
