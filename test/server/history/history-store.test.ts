// The history's SQLite rows on a real database file: every table stays bounded (per lab, in all, by
// age), a left attempt stays as it was, and a completion key is made once and kept.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { completionKey, CompletionSigner } from '../../../server/history/completion.js';
import { HistoryStore, type AttemptRow } from '../../../server/history/history-store.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'termlab-history-store-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

let n = 0;
function attempt(learner: string, lab: string, at: number): AttemptRow {
  n++;
  return { id: `a${n}`, learner, lab, title: lab, version: 'v', state: 'in-progress', passedAt: [null, null], session: `s${n}`, startedAt: at, updatedAt: at };
}

test('attempts are bounded per learner and lab, and in all (the least recently touched go)', () => {
  const store = new HistoryStore(path.join(dir, 'bounded.db'));
  for (let i = 0; i < 5; i++) store.insert(attempt('ann', 'hello', 1000 + i), 3, 1000);
  const mine = store.attempts('ann');
  assert.equal(mine.length, 3);
  assert.deepEqual(mine.map((a) => a.startedAt), [1004, 1003, 1002]);
  assert.deepEqual(mine.map((a) => a.state), ['in-progress', 'left', 'left']);
  // Many browsers (fresh cookies) cannot grow the table past maxAll.
  for (let i = 0; i < 30; i++) store.insert(attempt(`cookie${i}`, 'hello', 2000 + i), 3, 20);
  assert.equal(store.count(), 20);
  assert.equal(store.attempts('ann').length, 0, 'the oldest went first');
  assert.equal(store.attempts('cookie29').length, 1);
  store.close();
});

test('a left attempt stays as it was; an erased one stays erased; retention deletes untouched rows and names', () => {
  const store = new HistoryStore(path.join(dir, 'retention.db'));
  const first = attempt('bob', 'hello', Date.now());
  store.insert(first, 3, 1000);
  store.insert(attempt('bob', 'hello', Date.now() + 1), 3, 1000);
  // The old session still runs and passes a step: its attempt was left by the new start, and stays so.
  assert.equal(store.update(first.id, { passedAt: [1, null], state: 'in-progress' }), false);
  assert.equal(store.get(first.id)!.state, 'left');
  assert.deepEqual(store.get(first.id)!.passedAt, [null, null]);

  store.setName('bob', 'Bob');
  store.setName('old', 'Old name');
  assert.equal(store.erase('nobody'), 0);
  assert.equal(store.sweep(Date.now() - 60_000), 0, 'nothing is old yet');
  assert.equal(store.name('bob'), 'Bob');
  // Everything is past a retention that ends in the future.
  assert.equal(store.sweep(Date.now() + 60_000), 2);
  assert.equal(store.name('bob'), '');
  assert.equal(store.name('old'), '');
  store.close();
});

test('the completion key is made once, kept private, and signs what verifies', () => {
  const state = path.join(dir, 'state');
  const key = completionKey(state, undefined);
  assert.equal(key.length, 32);
  assert.equal(fs.statSync(path.join(state, 'completion.key')).mode & 0o777, 0o600);
  assert.deepEqual(completionKey(state, undefined), key, 'a restart keeps the key, so old proofs still verify');
  assert.deepEqual(completionKey(state, 'a'.repeat(32)), Buffer.from('a'.repeat(32)), 'a configured secret wins (several servers share it)');
  const signer = new CompletionSigner(key);
  const completion = { attempt: 'x', lab: 'hello', title: 'Hello', name: '', startedAt: 1, finishedAt: 2, steps: [{ title: 'One', passedAt: 2 }], recordings: [], issuedAt: 2 };
  const token = signer.sign(completion);
  assert.deepEqual(signer.verify(token), { ok: true, completion });
  assert.equal(new CompletionSigner(completionKey(path.join(dir, 'other'), undefined)).verify(token).ok, false);
});
