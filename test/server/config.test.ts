// Configuration defaults that depend on the machine: the kubernetes pool.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../server/config.js';

test('a kubernetes box is pre-started by default only when the memory budget has room for it', () => {
  // Pooled limits by default: shell 512 + docker 2048 + kubernetes 1536 = 4096 MiB, at most half the budget.
  assert.equal(loadConfig({ TERMLAB_MEMORY_BUDGET_MB: '8192' }).pool.kubernetes, 1);
  assert.equal(loadConfig({ TERMLAB_MEMORY_BUDGET_MB: '8191' }).pool.kubernetes, 0);
  // A smaller kubernetes box fits a smaller budget.
  assert.equal(loadConfig({ TERMLAB_MEMORY_BUDGET_MB: '6144', TERMLAB_KUBERNETES_MEMORY_MB: '512' }).pool.kubernetes, 1);
});

test('TERMLAB_POOL overrides the default, and a profile it leaves out keeps its own default', () => {
  assert.equal(loadConfig({ TERMLAB_MEMORY_BUDGET_MB: '16384', TERMLAB_POOL: 'kubernetes=0' }).pool.kubernetes, 0);
  const some = loadConfig({ TERMLAB_MEMORY_BUDGET_MB: '16384', TERMLAB_POOL: 'shell=2' }).pool;
  assert.deepEqual(some, { shell: 2, docker: 1, kubernetes: 1 });
  assert.equal(loadConfig({ TERMLAB_MEMORY_BUDGET_MB: '1024', TERMLAB_POOL: 'kubernetes=1' }).pool.kubernetes, 1);
});

test('recordings are written as asciicast v2 unless TERMLAB_RECORDING_FORMAT asks for v3', () => {
  assert.equal(loadConfig({}).recordingFormat, 'v2');
  assert.equal(loadConfig({ TERMLAB_RECORDING_FORMAT: '' }).recordingFormat, 'v2');
  assert.equal(loadConfig({ TERMLAB_RECORDING_FORMAT: 'v3' }).recordingFormat, 'v3');
  assert.throws(() => loadConfig({ TERMLAB_RECORDING_FORMAT: '3' }), /invalid configuration: recordingFormat: TERMLAB_RECORDING_FORMAT must be v2 or v3/);
});
