// Lab progress on both databases: a session's state is saved over, checks come back in order.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProgressStore } from '../../../server/labs/progress-store.js';
import { backends } from './backends.js';

for (const backend of backends) {
  describe(`progress store on ${backend.name}`, () => {
    test('a session\'s progress is saved over; its checks come back in the order they ran', async () => {
      const { connect } = await backend.fresh();
      const store = await ProgressStore.open(connect());
      assert.equal(await store.load('s1'), undefined);
      await store.save('s1', { lab: 'hello', current: 0, statuses: ['current', 'pending'] });
      await store.save('s1', { lab: 'hello', current: 1, statuses: ['done', 'current'] });
      assert.deepEqual(await store.load('s1'), { lab: 'hello', current: 1, statuses: ['done', 'current'] });
      for (let i = 0; i < 5; i++) await store.recordCheck('s1', 'hello', 0, i === 4, i % 2 ? 'button' : 'command', 1_000_000_000_000 + i);
      await store.recordCheck('s2', 'hello', 0, true, 'command', 1);
      const checks = await store.checks('s1');
      assert.deepEqual(checks.map((c) => [c.passed, c.source, c.ms]), [
        [false, 'command', 1_000_000_000_000], [false, 'button', 1_000_000_000_001], [false, 'command', 1_000_000_000_002],
        [false, 'button', 1_000_000_000_003], [true, 'command', 1_000_000_000_004]]);
      assert.equal(typeof checks[0]!.at, 'number', 'epoch milliseconds come back as numbers');
    });

    test('two servers opening the same database at once both get its tables', async () => {
      const { connect } = await backend.fresh();
      const [a, b] = await Promise.all([ProgressStore.open(connect()), ProgressStore.open(connect())]);
      await a.save('s', { lab: 'x', current: 0, statuses: [] });
      assert.equal((await b.load('s'))?.lab, 'x');
    });
  });
}
