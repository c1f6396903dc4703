// Learners' attempts on both databases: every table stays bounded (per lab, in all, by age), a left
// attempt stays as it was; with several servers at once the caps still hold and sweeps do not clash.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HistoryStore, type AttemptRow } from '../../../server/history/history-store.js';
import { backends } from './backends.js';

let n = 0;
function attempt(learner: string, lab: string, at: number): AttemptRow {
  n++;
  return { id: `a${n}`, learner, lab, title: lab, version: 'v', state: 'in-progress', passedAt: [null, null], session: `s${n}`, startedAt: at, updatedAt: at };
}

for (const backend of backends) {
  describe(`history store on ${backend.name}`, () => {
    test('attempts are bounded per learner and lab, and in all (the least recently touched go)', async () => {
      const store = await HistoryStore.open((await backend.fresh()).connect());
      for (let i = 0; i < 5; i++) await store.insert(attempt('ann', 'hello', 1000 + i), 3, 1000);
      const mine = await store.attempts('ann');
      assert.deepEqual(mine.map((a) => a.startedAt), [1004, 1003, 1002]);
      assert.deepEqual(mine.map((a) => a.state), ['in-progress', 'left', 'left']);
      assert.equal((await store.latest('ann', 'hello'))?.startedAt, 1004);
      // Many browsers (fresh cookies) cannot grow the table past maxAll.
      for (let i = 0; i < 30; i++) await store.insert(attempt(`cookie${i}`, 'hello', 2000 + i), 3, 20);
      assert.equal(await store.count(), 20);
      assert.equal((await store.attempts('ann')).length, 0, 'the oldest went first');
      assert.equal((await store.attempts('cookie29')).length, 1);
    });

    test('a left attempt stays as it was; an erased one stays erased; retention deletes untouched rows and names', async () => {
      const store = await HistoryStore.open((await backend.fresh()).connect());
      const first = attempt('bob', 'hello', Date.now());
      await store.insert(first, 3, 1000);
      await store.insert(attempt('bob', 'hello', Date.now() + 1), 3, 1000);
      assert.equal(await store.update(first.id, { passedAt: [1, null], state: 'in-progress' }), false);
      assert.equal((await store.get(first.id))!.state, 'left');
      assert.deepEqual((await store.get(first.id))!.passedAt, [null, null]);
      const second = (await store.latest('bob', 'hello'))!;
      assert.equal(await store.update(second.id, { passedAt: [5, 6], state: 'finished', finishedAt: 6, completion: 'tok' }), true);
      assert.deepEqual(await store.get(second.id), { ...second, passedAt: [5, 6], state: 'finished', finishedAt: 6, completion: 'tok', updatedAt: (await store.get(second.id))!.updatedAt });

      await store.setName('bob', 'Bob');
      await store.setName('bob', 'Bobby');
      await store.setName('old', 'Old name');
      assert.equal(await store.erase('nobody'), 0);
      assert.equal(await store.sweep(Date.now() - 60_000), 0, 'nothing is old yet');
      assert.equal(await store.name('bob'), 'Bobby');
      assert.equal(await store.sweep(Date.now() + 60_000), 2);
      assert.equal(await store.name('bob'), '');
      assert.equal(await store.name('old'), '');
      await store.insert(attempt('cy', 'hello', 1), 3, 1000);
      await store.setName('cy', 'Cy');
      assert.equal(await store.erase('cy'), 1);
      assert.equal(await store.name('cy'), '');
    });

    test('two servers starting one learner\'s lab at once keep the per-lab cap and one attempt in progress', async () => {
      const { connect } = await backend.fresh();
      const [a, b] = [await HistoryStore.open(connect()), await HistoryStore.open(connect())];
      const starts = Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).insert(attempt('dee', 'hello', 5000 + i), 3, 1000));
      await Promise.all(starts);
      const kept = await a.attempts('dee');
      assert.equal(kept.length, 3);
      assert.equal(kept.filter((x) => x.state === 'in-progress').length, 1, 'every other start was left');
      // And in all: 40 fresh learners on two servers stay under maxAll.
      await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).insert(attempt(`fresh${i}`, 'hello', 6000 + i), 3, 25)));
      assert.equal(await a.count(), 25);
    });

    test('retention sweeps run by two servers at once do not fail and delete each row once', async () => {
      const { connect } = await backend.fresh();
      const [a, b] = [await HistoryStore.open(connect()), await HistoryStore.open(connect())];
      for (let i = 0; i < 30; i++) await a.insert(attempt(`old${i}`, 'hello', 1000 + i), 3, 1000);
      for (let i = 0; i < 30; i++) await a.setName(`old${i}`, `Old ${i}`);
      const removed = await Promise.all([a.sweep(Date.now() + 60_000), b.sweep(Date.now() + 60_000), a.sweep(Date.now() + 60_000)]);
      assert.equal(removed.reduce((x, y) => x + y, 0), 30);
      assert.equal(await b.count(), 0);
    });
  });
}
