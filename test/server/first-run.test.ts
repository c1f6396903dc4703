// A first run: the server listens and shell labs start while the kubernetes image is still being
// prepared; a kubernetes lab gets a clear "still being prepared" answer with its progress, and pools
// and workshop warm-ups wait for it, then start. A preparation that fails is said plainly and the
// other profiles keep working. The preparation step is the only thing replaced: a gate the test
// releases in front of the real one (which finds the image built), so "not ready" is observable
// without deleting an image; engine, boxes and HTTP are real.
//   node --import tsx --test --test-concurrency=1 test/server/first-run.test.ts
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApiError } from '../../protocol/api.js';
import type { ProfileStatus, ProfileStatusResponse } from '../../protocol/preparation.js';
import { loadConfig } from '../../server/config.js';
import type { LabServer } from '../../server/lab-server.js';
import type { PrepareStep } from '../../server/sandbox/preparation.js';
import { createSession, startTestServer, stopAndListLeftovers, until } from '../helpers/lab-server.js';
import { Browser, createWorkshop } from '../helpers/workshops.js';

async function kubernetesStatus(server: LabServer): Promise<ProfileStatus | undefined> {
  const res = await fetch(`${server.url}/api/profiles`);
  assert.equal(res.status, 200);
  return ((await res.json()) as ProfileStatusResponse).profiles.kubernetes;
}

async function startHelm(server: LabServer): Promise<{ status: number; body: ApiError; retryAfter: string | null }> {
  const res = await fetch(`${server.url}/api/sessions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lab: 'helm' }),
  });
  return { status: res.status, body: (await res.json()) as ApiError, retryAfter: res.headers.get('retry-after') };
}

test('while the kubernetes image is prepared the server serves, shell labs start, helm is told to wait; then it starts', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  let entered!: () => void;
  const inStep = new Promise<void>((resolve) => { entered = resolve; });
  const prepare: PrepareStep = async (_profile, ctx) => {
    ctx.phase('kube-bins');
    entered();
    await gate;
    return ctx.prepare();
  };
  // One pre-started kubernetes box and a one-seat workshop without spares: each waits, then starts one.
  const server = await startTestServer(
    { pool: { shell: 0, docker: 0, kubernetes: 1 }, workshops: { ...loadConfig().workshops, reserve: 0 } }, { prepare: { profiles: ['kubernetes'], step: prepare } });
  try {
    await inStep;
    const health = await fetch(`${server.url}/api/health`);
    assert.equal(health.status, 200, 'the server listens before the kubernetes image is ready');

    const status = await kubernetesStatus(server);
    assert.equal(status?.state, 'preparing');
    assert.equal(status.phase, 'building Kubernetes binaries');
    assert.ok(typeof status.expectedMs === 'number' && status.expectedMs > 0, 'an expected time');
    assert.ok(typeof status.leftMs === 'number' && status.leftMs >= 60_000, 'a time left');
    const profiles = ((await (await fetch(`${server.url}/api/profiles`)).json()) as ProfileStatusResponse).profiles;
    assert.deepEqual(Object.keys(profiles), ['kubernetes'], 'shell and docker were ready at listen');

    const shell = await createSession(server, 'hello');
    assert.ok(server.sessions.byId(shell.id), 'a shell lab starts meanwhile');

    const refused = await startHelm(server);
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, 'preparing');
    assert.match(refused.body.error,
      /^The Kubernetes sandbox is still being prepared \(building Kubernetes binaries, about \d+ min left\); try again then\.$/);
    assert.ok(Number(refused.retryAfter) > 0, 'Retry-After says when to ask again');

    // A workshop of the Helm lab may be created now; its warm-up and the pool wait for the image.
    const instructor = new Browser(server.url);
    const workshop = await createWorkshop(instructor, { title: 'Helm class', labs: ['helm'], seats: 1 });
    assert.equal(server.sessions.reservedBoxes(workshop.id), 0);
    assert.equal(server.sessions.pooled.kubernetes ?? 0, 0);
    assert.equal(server.driver.images.kubernetes, undefined);

    release();
    await until('the kubernetes profile to be ready', async () => (await kubernetesStatus(server))?.state === 'ready', 120_000);
    assert.match(server.driver.images.kubernetes ?? '', /^termlab\/kubernetes:[0-9a-f]{12}$/);
    await until('the pool to pre-start a kubernetes box', () => server.sessions.pooled.kubernetes === 1, 120_000);
    await until('the workshop to warm its seat', () => server.sessions.reservedBoxes(workshop.id) === 1, 120_000);

    const helm = await createSession(server, 'helm');
    assert.equal(server.sessions.byId(helm.id)?.lab.profile, 'kubernetes');
  } finally {
    release();
    assert.deepEqual(await stopAndListLeftovers(server), [], 'containers left behind');
  }
});

test('a failed preparation is said with its reason; other profiles keep working', async () => {
  const prepare: PrepareStep = async (_profile, ctx) => {
    ctx.phase('kube-bins');
    throw new Error('bash scripts/build-kube-bins.sh failed (exit 1):\ngo: no space left on device');
  };
  const server = await startTestServer({}, { prepare: { profiles: ['kubernetes'], step: prepare } });
  try {
    const status = await until('the preparation to fail', async () => {
      const s = await kubernetesStatus(server);
      return s?.state === 'failed' ? s : undefined;
    });
    assert.match(status.error ?? '', /build-kube-bins\.sh failed .*no space left on device/);

    const refused = await startHelm(server);
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, 'preparation-failed');
    assert.match(refused.body.error, /^The Kubernetes sandbox could not be prepared: .*no space left on device\. The server log has the details; it is tried again when the server restarts\./);

    const shell = await createSession(server, 'hello');
    assert.ok(server.sessions.byId(shell.id), 'a shell lab still starts');
  } finally {
    assert.deepEqual(await stopAndListLeftovers(server), [], 'containers left behind');
  }
});
