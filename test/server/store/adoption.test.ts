// A session outlives the replica that made it: two real lab servers share one PostgreSQL, and a
// learner whose replica is killed (or stopped) reconnects to the other, which takes the session
// over from the database: same box, same files, same steps, and the page keeps its screen. The
// shell itself survives only where the backend keeps it (Kubernetes, test/server/kubernetes/);
// on Docker the adopter opens a new one in the same box.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { CLOSE, PROTOCOL_VERSION } from '../../../protocol/messages.js';
import type { HistoryResponse } from '../../../protocol/history.js';
import type { LabServer } from '../../../server/lab-server.js';
import { removeLeftovers } from '../../../server/sandbox/boxes.js';
import { LABEL } from '../../../server/sandbox/engine.js';
import { until } from '../../helpers/lab-server.js';
import { startPostgres, type PostgresServer } from '../../helpers/postgres.js';
import { ProtocolClient } from '../../helpers/protocol-client.js';
import { startReplicaProcess } from '../../helpers/replica-process.js';
import { sharedInstance, type SharedInstance } from '../../helpers/shared-instance.js';

let postgres: PostgresServer;
const shared: SharedInstance[] = [];
const BEAT = 300;

before(() => { postgres = startPostgres(); });
after(() => {
  postgres?.stop();
  for (const s of shared) s.remove();
});

async function replicas(): Promise<SharedInstance> {
  const s = await sharedInstance(postgres);
  shared.push(s);
  return s;
}

/** Starts the hello lab; `cookie` is the learner's browser (its history). */
async function startLab(url: string): Promise<{ id: string; token: string; cookie: string }> {
  const res = await fetch(`${url}/api/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"lab":"hello"}' });
  assert.equal(res.status, 201, await res.clone().text());
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]!).find((c) => c.startsWith('tl_learner='))!;
  return { ...((await res.json()) as { id: string; token: string }), cookie };
}

/** Steps the learner's latest attempt has passed, as the lab list reads it (from any replica). */
async function attemptPassed(url: string, cookie: string): Promise<number | undefined> {
  const me = (await (await fetch(`${url}/api/me`, { headers: { cookie } })).json()) as HistoryResponse;
  return me.attempts[0]?.passed;
}

/** Whether the session's saved progress has a step done (read as any replica would). */
async function savedDone(url: string, session: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ statuses: string }>('SELECT statuses FROM progress WHERE session = $1', [session]);
    return r.rows[0]?.statuses.includes('done') ?? false;
  } finally {
    await client.end();
  }
}

let commands = 0;
/** Types a command and waits until it has run (a word the typed line itself does not contain). */
async function run(term: ProtocolClient, command: string): Promise<void> {
  const n = ++commands;
  term.type(`${command}; echo "ran""-${n}"\r`);
  await term.waitForText(`ran-${n}`);
}

test('a crashed replica\'s session is adopted by the other: box, files, steps and the page\'s screen carry on; its sweep spares the adopted box', async () => {
  const s = await replicas();
  const { databaseUrl, instance } = s;
  const env = { TERMLAB_DATABASE_URL: databaseUrl, TERMLAB_INSTANCE: instance, TERMLAB_REPLICA_BEAT_MS: String(BEAT) };
  const dying = await startReplicaProcess({ ...env, TERMLAB_REPLICA: 'gw-dying', TERMLAB_STATE_DIR: s.stateDir('dying') });
  let other: LabServer | undefined;
  try {
    other = await s.start('gw-other', { replicaBeatMs: BEAT });
    const docker = other.driver.docker;
    const { id, token, cookie } = await startLab(dying.url);
    // A second session nobody comes back for: its removal shows the other replica's sweep has run.
    const abandoned = await startLab(dying.url);

    const channel = await ProtocolClient.openSession(dying.url, token);
    const term = await ProtocolClient.open(dying.url, token);
    await term.waitFor('the first prompt', () => term.prompts() > 0);
    await run(term, 'echo hello > ~/hello.txt; echo kept-before-the-crash > ~/kept.txt');
    await channel.waitFor('step 1 done', () => channel.stepsDone() >= 1);
    // Saved as it turned green; a crash a moment earlier would lose that step (the learner does it again).
    await until('step 1 saved', () => savedDone(databaseUrl, id));
    const shown = term.offset;

    dying.proc.kill('SIGKILL');
    await term.waitForClose();

    // The page reconnects (the load balancer sends it to the live replica) and resumes where its screen stops.
    const again = await ProtocolClient.open(other.url, token, { resumeFrom: shown });
    const ready = again.of('ready')[0]!;
    assert.equal(ready.session, id);
    assert.equal(ready.offset, shown, 'the adopted stream continues the page\'s offsets');
    assert.equal(again.snapshot, undefined, 'no snapshot: the page keeps the screen it shows');
    await run(again, 'cat ~/kept.txt');
    assert.match(again.text, /kept-before-the-crash/);
    const progress = await ProtocolClient.openSession(other.url, token);
    await progress.waitFor('the lab\'s progress', () => progress.of('lab').length > 0);
    assert.equal(progress.stepsDone(), 1, 'the step passed on the dead replica is still done');
    // The learner's attempt goes on with the adopter: the next step passed there is in their history.
    await run(again, 'mkdir ~/notes && mv ~/hello.txt ~/notes/');
    await progress.waitFor('step 2 done on the adopter', () => progress.stepsDone() >= 2);
    await until('the attempt to count step 2', async () => (await attemptPassed(other!.url, cookie)) === 2);

    // The dead replica's lease lapses: the other's sweep removes what nobody took (the abandoned
    // session's box) and leaves the adopted one, though it carries the dead replica's label.
    const boxOf = async (session: string) =>
      (await docker.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${instance}`, `${LABEL.session}=${session}`] } }))[0];
    await until('the abandoned session\'s box to be swept', async () => !(await boxOf(abandoned.id)), 30_000);
    const kept = await boxOf(id);
    assert.equal(kept?.State, 'running');
    assert.equal(kept?.Labels[LABEL.replica], 'gw-dying');
    await run(again, 'echo still-here');
    assert.match(again.text, /still-here/);
    assert.equal(again.snapshot, undefined, 'the page was never sent a screen over its own');

    // The adopter owns it now: ending it removes the box.
    const ended = await fetch(`${other.url}/api/sessions/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    assert.equal(ended.status, 204);
    assert.equal(await boxOf(id), undefined);
    again.close();
    progress.close();
    channel.close();
  } finally {
    dying.proc.kill('SIGKILL');
    await other?.stop();
    if (other) await removeLeftovers(other.driver.docker, instance, () => {});
  }
});

test('a replica stopping while another runs hands its sessions over instead of ending them', async () => {
  const s = await replicas();
  const { instance } = s;
  const server = (name: string) => s.start(name, { replicaBeatMs: BEAT });
  const stopping = await server('gw-stopping');
  const staying = await server('gw-staying');
  try {
    const { id, token } = await startLab(stopping.url);
    const term = await ProtocolClient.open(stopping.url, token);
    await term.waitFor('the first prompt', () => term.prompts() > 0);
    await run(term, 'echo handed-over > ~/note.txt');

    await stopping.stop();
    await term.waitForClose();
    assert.equal(term.closeCode, CLOSE.moving, 'the page is told to reconnect, not that its session ended');
    assert.equal(term.of('exit').length, 0);

    const again = await ProtocolClient.open(staying.url, token, { resumeFrom: term.offset });
    assert.equal(again.of('ready')[0]!.session, id);
    await run(again, 'cat ~/note.txt');
    assert.match(again.text, /handed-over/);
    again.close();

    // A token no replica knows is refused as before, and one guessed at costs a lookup, not a session.
    const stranger = await ProtocolClient.connect(staying.url);
    stranger.send({ type: 'hello', v: PROTOCOL_VERSION, token: 'x'.repeat(43), terminal: 'main', cols: 80, rows: 24 });
    await stranger.waitForClose();
    assert.equal(stranger.closeCode, CLOSE.badToken);
  } finally {
    await stopping.stop();
    await staying.stop();
    await removeLeftovers(staying.driver.docker, instance, () => {});
  }
});

test('a learner moved between live replicas (the load balancer rehashed): the new one adopts, the old one lets go, and back again, one box throughout', async () => {
  const s = await replicas();
  const a = await s.start('gw-live-a', { replicaBeatMs: BEAT });
  const b = await s.start('gw-live-b', { replicaBeatMs: BEAT });
  try {
    const { id, token } = await startLab(a.url);
    const onA = await ProtocolClient.open(a.url, token);
    await run(onA, 'echo one-box > ~/mark');
    const onB = await ProtocolClient.open(b.url, token, { resumeFrom: onA.offset });
    await run(onB, 'cat ~/mark');
    assert.match(onB.text, /one-box/);
    // A hears that B took it: its old socket is told another window took over, its boxes stay.
    await onA.waitForClose();
    assert.equal(onA.of('exit')[0]?.reason, 'replaced');
    await until('a to let the session go', () => a.sessions.byId(id) === undefined);
    const back = await ProtocolClient.open(a.url, token, { resumeFrom: onB.offset });
    await run(back, 'cat ~/mark');
    assert.match(back.text, /one-box/);
    await until('b to let it go in turn', () => b.sessions.byId(id) === undefined);
    const boxes = await a.driver.docker.listContainers({ all: true, filters: { label: [`${LABEL.session}=${id}`] } });
    assert.equal(boxes.length, 1, 'one box, never destroyed by either');
    back.close();
  } finally {
    await b.stop();
    await a.stop();
    await removeLeftovers(a.driver.docker, s.instance, () => {});
  }
});

test('a script sending made-up tokens in bulk gets refusals (bad token, or come back later at the lookup cap), and a learner typing meanwhile is not held up', async () => {
  const s = await replicas();
  const server = await s.start('gw-flooded', { replicaBeatMs: BEAT });
  try {
    const { token } = await startLab(server.url);
    const learner = await ProtocolClient.open(server.url, token);
    await run(learner, 'true');
    // Sockets past the per-address limit are refused at the upgrade (429); the rest say hello with a made-up token.
    const tries = await Promise.all(Array.from({ length: 100 }, () => ProtocolClient.connect(server.url).catch((err: Error) => err)));
    assert.ok(tries.some((t) => t instanceof Error && /429/.test(t.message)), 'the per-address socket limit holds');
    const made = tries.filter((t): t is ProtocolClient => t instanceof ProtocolClient);
    assert.ok(made.length > 0);
    for (const c of made) c.send({ type: 'hello', v: PROTOCOL_VERSION, token: crypto.randomBytes(32).toString('base64url'), terminal: 'main', cols: 80, rows: 24 });
    await run(learner, 'echo still-typing');
    await Promise.all(made.map((c) => c.waitForClose()));
    for (const c of made) assert.ok(c.closeCode === CLOSE.badToken || c.closeCode === CLOSE.moving, `closed with ${c.closeCode}`);
    assert.equal(server.sessions.count, 1, 'no session made or adopted');
    learner.close();
  } finally {
    await server.stop();
    await removeLeftovers(server.driver.docker, s.instance, () => {});
  }
});

test('pre-started boxes are the instance\'s: two replicas keep one pool between them, and a learner on either takes a box the other made', async () => {
  const s = await replicas();
  const { instance } = s;
  const server = (name: string) => s.start(name, { replicaBeatMs: BEAT, pool: { shell: 2, docker: 0, kubernetes: 0 } });
  const a = await server('gw-pool-a');
  let b: LabServer | undefined;
  try {
    const docker = a.driver.docker;
    const boxesBy = async (replica: string) =>
      docker.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${instance}`, `${LABEL.replica}=${replica}`] } });
    await until('a to fill the pool', async () => (await fetch(`${a.url}/api/health`).then((r) => r.json()) as { pooled: { shell?: number } }).pooled.shell === 2);
    b = await server('gw-pool-b');
    const health = (await (await fetch(`${b.url}/api/health`)).json()) as { pooled: { shell?: number } };
    assert.equal(health.pooled.shell, 2, 'b sees the instance\'s pool');
    assert.equal((await boxesBy('gw-pool-b')).length, 0, 'and starts none of its own: the pool is full');

    const { id } = await startLab(b.url);
    const made = (await boxesBy('gw-pool-a')).map((c) => c.Labels[LABEL.session]);
    assert.ok(made.includes(id), 'the learner on b got a box a pre-started');
    // The pool is topped up again (by b, whose learner took the box), to 2 in all.
    await until('the pool topped up', () => b!.sessions.pooled.shell === 2);
  } finally {
    await b?.stop();
    await a.stop();
    await removeLeftovers(a.driver.docker, instance, () => {});
  }
});
