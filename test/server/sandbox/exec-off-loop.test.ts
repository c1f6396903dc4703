// Host commands started from their own thread answer as execFile does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execFileOffLoop } from '../../../server/sandbox/exec-off-loop.js';

test('stdout and stderr come back, several commands at once each get their own', async () => {
  const [a, b] = await Promise.all([
    execFileOffLoop('sh', ['-c', 'echo one; echo err >&2']),
    execFileOffLoop('sh', ['-c', 'echo two']),
  ]);
  assert.deepEqual(a, { stdout: 'one\n', stderr: 'err\n' });
  assert.equal(b.stdout, 'two\n');
});

test('a failing command rejects with its exit code and output; a missing one with ENOENT', async () => {
  await assert.rejects(execFileOffLoop('sh', ['-c', 'echo partial; exit 3']), (err: Error & { code?: number; stdout?: string }) =>
    err.code === 3 && err.stdout === 'partial\n');
  await assert.rejects(execFileOffLoop('/nonexistent/termlab-cmd', []), (err: Error & { code?: string }) => err.code === 'ENOENT');
});

test('output beyond maxBuffer is refused, not kept', async () => {
  await assert.rejects(execFileOffLoop('sh', ['-c', 'head -c 5000 /dev/zero'], { maxBuffer: 1000 }), /maxBuffer/);
});
