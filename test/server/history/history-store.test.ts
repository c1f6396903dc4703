// The completion key is made once and kept. (The history's rows, bounded per lab, in all and by age,
// are tested on SQLite and PostgreSQL in test/server/store/history-store.test.ts.)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { completionKey, CompletionSigner } from '../../../server/history/completion.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'termlab-history-store-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

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
