// Two real lab servers sharing one PostgreSQL database (TERMLAB_DATABASE_URL), as two replicas
// behind a load balancer: what a learner or an instructor does on one is there on the other.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { HistoryResponse } from '../../../protocol/history.js';
import type { WorkshopJoinInfo, WorkshopState } from '../../../protocol/workshops.js';
import type { LabServer } from '../../../server/lab-server.js';
import { removeLeftovers } from '../../../server/sandbox/boxes.js';
import { LABEL } from '../../../server/sandbox/engine.js';
import { stopAndListLeftovers, until } from '../../helpers/lab-server.js';
import { startPostgres, type PostgresServer } from '../../helpers/postgres.js';
import { startReplicaProcess } from '../../helpers/replica-process.js';
import { sharedInstance, type SharedInstance } from '../../helpers/shared-instance.js';
import { Browser, createWorkshop } from '../../helpers/workshops.js';

let pg: PostgresServer;
let a: LabServer;
let b: LabServer;
const shared: SharedInstance[] = [];

/** Replicas share the instance name (its workshops) and the database; each has its own state folder. */
async function replicas(): Promise<SharedInstance> {
  const s = await sharedInstance(pg);
  shared.push(s);
  return s;
}

before(async () => {
  pg = startPostgres();
  const s = await replicas();
  a = await s.start('gw-a');
  b = await s.start('gw-b');
});

after(async () => {
  assert.deepEqual(await stopAndListLeftovers(a), []);
  await b?.stop();
  pg?.stop();
  for (const s of shared) s.remove();
});

/** The same browser (its learner cookie) talking to another replica. */
function sameBrowserOn(browser: Browser, server: LabServer): Browser {
  const other = new Browser(server.url);
  for (const [k, v] of browser.cookies) other.cookies.set(k, v);
  return other;
}

test('a learner\'s name given on one replica is read on the other, and erased from both', async () => {
  const onA = new Browser(a.url);
  await onA.json<HistoryResponse>('/api/me', { method: 'PUT', body: { name: 'Ada' } });
  const onB = sameBrowserOn(onA, b);
  assert.equal((await onB.json<HistoryResponse>('/api/me')).name, 'Ada');
  assert.equal((await onB.fetch('/api/me', { method: 'DELETE' })).status, 204);
  assert.equal((await onA.json<HistoryResponse>('/api/me')).name, '');
});

test('a workshop made on one replica is found by its code, and its instructor link works, on the other', async () => {
  const instructor = new Browser(a.url);
  const made = await createWorkshop(instructor, { title: 'Replicated', labs: ['hello'], seats: 3, startsAt: Date.now() + 3_600_000 });
  const learner = new Browser(b.url);
  const info = await learner.json<WorkshopJoinInfo>(`/api/w/${made.code}`);
  assert.equal(info.title, 'Replicated');
  assert.equal(info.seats, 3);
  assert.equal(info.phase, 'scheduled');
  const onB = new Browser(b.url);
  await onB.enter(made.instructorUrl.replace(a.url, b.url));
  const state = await onB.json<WorkshopState>(`/api/workshops/${made.id}`);
  assert.equal(state.role, 'instructor');
  assert.equal(state.title, 'Replicated');
});

test('replicas leave each other\'s boxes alone when they start and stop; a crashed replica\'s box is removed by another', async () => {
  const s = await replicas();
  const { instance } = s;
  const beat = 300;
  const env = { TERMLAB_DATABASE_URL: s.databaseUrl, TERMLAB_INSTANCE: instance, TERMLAB_REPLICA_BEAT_MS: String(beat) };
  const crashing = await startReplicaProcess({ ...env, TERMLAB_REPLICA: 'gw-crashing', TERMLAB_STATE_DIR: s.stateDir('crashing') });
  let others = 0;
  const other = () => s.start(`gw-other-${++others}`, { replicaBeatMs: beat });
  let c: LabServer | undefined;
  const docker = a.driver.docker;
  const boxesOf = async (replica: string) =>
    docker.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${instance}`, `${LABEL.replica}=${replica}`] } });
  try {
    const res = await fetch(`${crashing.url}/api/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"lab":"hello"}' });
    assert.equal(res.status, 201);
    const [box] = await boxesOf('gw-crashing');
    assert.ok(box, 'the session\'s box carries its replica');

    // Another replica starting (its sweep of leftovers) and stopping (its own and crashed ones') spares it.
    c = await other();
    await c.stop();
    c = await other();
    assert.deepEqual((await boxesOf('gw-crashing')).map((b) => [b.Id, b.State]), [[box.Id, 'running']]);

    // Killed: no stop, no removal; its lease lapses and the other replica's sweep removes its box.
    crashing.proc.kill('SIGKILL');
    await until('the crashed replica\'s box to be removed by the other', async () => (await boxesOf('gw-crashing')).length === 0, 30_000);
    await assert.rejects(docker.getContainer(box.Id).inspect(), /404|no such container/i);
  } finally {
    crashing.proc.kill('SIGKILL');
    await c?.stop();
    await removeLeftovers(docker, instance, () => {});
  }
});
