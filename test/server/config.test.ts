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

test('TERMLAB_DATABASE_URL chooses PostgreSQL; a malformed one says what is wrong and never shows the password', () => {
  assert.equal(loadConfig({}).databaseUrl, undefined, 'SQLite by default');
  assert.equal(loadConfig({ TERMLAB_DATABASE_URL: 'postgres://tl:pw@db:5432/termlab' }).databaseUrl, 'postgres://tl:pw@db:5432/termlab');
  assert.equal(loadConfig({ TERMLAB_DATABASE_URL: 'postgresql:///termlab?host=/run/postgresql' }).databaseUrl, 'postgresql:///termlab?host=/run/postgresql');
  const refused = (url: string, why: RegExp): void => {
    assert.throws(() => loadConfig({ TERMLAB_DATABASE_URL: url }), (err: Error) => {
      assert.match(err.message, why);
      assert.match(err.message, /postgres:\/\/USER:PASSWORD@HOST:5432\/DATABASE/, 'it says how to write it');
      assert.doesNotMatch(err.message, /hunter2/, 'the password is never shown');
      return true;
    });
  };
  refused('mysql://tl:hunter2@db/termlab', /mysql:\/\/tl:\*\*\*@db\/termlab does not start with postgres:\/\//);
  refused('postgres://tl:hunter2@db:5432', /names no database/);
  refused('postgres//tl:hunter2@db/termlab', /is not a URL/);
});

test('TERMLAB_BACKEND chooses Docker (default) or Kubernetes, with the kubeconfig, namespace prefix, images and RuntimeClass', () => {
  const plain = loadConfig({});
  assert.equal(plain.backend, 'docker');
  assert.deepEqual(plain.kubernetes, { kubeconfig: undefined, namespacePrefix: 'tl-', images: { shell: undefined, docker: undefined }, runtimeClass: undefined });
  const kube = loadConfig({ TERMLAB_BACKEND: 'kubernetes', TERMLAB_KUBECONFIG: '/etc/termlab/kubeconfig', TERMLAB_KUBE_NAMESPACE_PREFIX: 'lab-',
    TERMLAB_KUBE_IMAGE_SHELL: 'registry.example.com/termlab/shell:1061663e7b23', TERMLAB_KUBE_RUNTIME_CLASS: 'gvisor' });
  assert.equal(kube.backend, 'kubernetes');
  assert.deepEqual(kube.kubernetes, { kubeconfig: '/etc/termlab/kubeconfig', namespacePrefix: 'lab-',
    images: { shell: 'registry.example.com/termlab/shell:1061663e7b23', docker: undefined }, runtimeClass: 'gvisor' });
  assert.throws(() => loadConfig({ TERMLAB_BACKEND: 'k8s' }), /invalid configuration: backend: TERMLAB_BACKEND must be docker or kubernetes/);
  assert.throws(() => loadConfig({ TERMLAB_KUBE_NAMESPACE_PREFIX: 'Lab_' }), /invalid configuration: kubernetes\.namespacePrefix: lowercase letters/);
  assert.throws(() => loadConfig({ TERMLAB_KUBE_RUNTIME_CLASS: 'G Visor' }), /invalid configuration: kubernetes\.runtimeClass: a RuntimeClass name/);
});

test('each start is a replica of its own unless TERMLAB_REPLICA names it; a bad name says what is allowed', () => {
  const a = loadConfig({});
  const b = loadConfig({});
  assert.match(a.replica, /^[a-z0-9][a-z0-9-]{0,62}$/);
  assert.notEqual(a.replica, b.replica, 'a restarted server is another replica: its old boxes are leftovers');
  assert.equal(loadConfig({ TERMLAB_REPLICA: 'gw-1' }).replica, 'gw-1');
  assert.equal(loadConfig({}).replicaBeatMs, 10_000);
  assert.throws(() => loadConfig({ TERMLAB_REPLICA: 'Gateway One' }), /TERMLAB_REPLICA|replica.*lowercase/i);
});
