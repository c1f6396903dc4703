// A workshop across two gateway replicas sharing one PostgreSQL database, as a load balancer hashing
// cookies spreads one room: the instructor's dashboard on replica A (`server/main.ts`, a process of
// its own), a learner's seat session on replica B (in this process, so its seat notices and box
// are at hand). What the learner does on B reaches A's event stream; what the instructor does on
// A (unlocking a step, lowering a hand, a broadcast, extending, ending, watching and typing in the
// learner's terminal through a view A relays to B) reaches the learner on B.
// Everything is real: PostgreSQL, LISTEN/NOTIFY, the engine and the boxes (the `hello` lab).
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CLOSE, PROTOCOL_VERSION } from '../../../protocol/messages.js';
import type { JoinResponse, SeatNotice, SeatRow, WorkshopEvent, WorkshopState } from '../../../protocol/workshops.js';
import { loadConfig } from '../../../server/config.js';
import type { LabServer } from '../../../server/lab-server.js';
import { removeLeftovers } from '../../../server/sandbox/boxes.js';
import { LABEL } from '../../../server/sandbox/engine.js';
import type { Session } from '../../../server/sessions/session.js';
import { startTestServer, testInstance, until } from '../../helpers/lab-server.js';
import { startPostgres, type PostgresServer } from '../../helpers/postgres.js';
import { ProtocolClient } from '../../helpers/protocol-client.js';
import { startReplicaProcess } from '../../helpers/replica-process.js';
import { Browser, EventStream, createWorkshop } from '../../helpers/workshops.js';

let pg: PostgresServer;
let a: { url: string; proc: ChildProcess };
let aEnv: Record<string, string>;
let b: LabServer;
const instance = testInstance();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-ws-replicas-'));

let instructor: Browser;
let dash: EventStream;
let workshop: string;
let learner: Browser;
let joined: JoinResponse;
let session: Session;
const notices: SeatNotice[] = [];

before(async () => {
  pg = startPostgres();
  const databaseUrl = await pg.createDatabase();
  // No reserve: each replica warms one box for the free seat, no more (this machine is small).
  aEnv = {
    TERMLAB_DATABASE_URL: databaseUrl, TERMLAB_INSTANCE: instance, TERMLAB_REPLICA: 'gw-a', TERMLAB_STATE_DIR: path.join(dir, 'a'),
    TERMLAB_WORKSHOP_RESERVE: '0', TERMLAB_WORKSHOP_END_WARNING_S: '0.5',
  };
  a = await startReplicaProcess(aEnv);
  b = await startTestServer({
    databaseUrl, instance, replica: 'gw-b', stateDir: path.join(dir, 'b'),
    workshops: { ...loadConfig().workshops, reserve: 0, endWarningMs: 500 },
  });
});

after(async () => {
  await dash?.close();
  if (a && a.proc.exitCode === null) {
    const exited = new Promise((resolve) => a.proc.once('exit', resolve));
    a.proc.kill('SIGTERM');
    await exited;
  }
  await b?.stop();
  if (b) await removeLeftovers(b.driver.docker, instance, () => {});
  pg?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The same browser (its cookies) talking to another address (a replica restarted on a new port). */
function sameBrowserOn(browser: Browser, url: string): Browser {
  const other = new Browser(url);
  for (const [k, v] of browser.cookies) other.cookies.set(k, v);
  return other;
}

function seatRow(find: (row: SeatRow) => boolean): (e: WorkshopEvent) => SeatRow | undefined {
  return (e) => (e.type === 'seat' && e.row.seat === '1' && find(e.row) ? e.row : undefined);
}

test('a learner seated through replica B: joining, passing a step and a raised hand reach the dashboard on replica A', async () => {
  instructor = new Browser(a.url);
  const made = await createWorkshop(instructor, { title: 'Two replicas', labs: ['hello'], seats: 2, paced: true });
  workshop = made.id;
  await instructor.enter(made.instructorUrl);
  dash = await EventStream.open(instructor, workshop);
  const first = await dash.waitFor('the state', (e) => (e.type === 'state' ? e.state : undefined));
  assert.deepEqual(first.rows, []);

  // The learner's cookie hashes to B: the workshop made on A a moment ago is there, and the seat's box runs on B.
  learner = new Browser(b.url);
  joined = await learner.json<JoinResponse>(`/api/w/${made.code}/join`, { body: { name: 'Ada' } });
  assert.equal(joined.seat, '1');
  session = b.sessions.byId(joined.session.id)!;
  assert.ok(session, 'the seat session runs on B');
  session.onSeatNotice((n) => notices.push(n));
  await dash.waitFor('seat 1 joined, seen on A', seatRow((r) => r.name === 'Ada'));

  const auth = { authorization: `Bearer ${joined.session.token}` };
  await b.driver.runScript(session.box, 'echo hello > /root/hello.txt', 10_000);
  await learner.json(`/api/sessions/${joined.session.id}/check`, { method: 'POST', headers: auth }, 202);
  await dash.waitFor('step 1 passed, seen on A', seatRow((r) => r.steps[0]!.state === 'passed' && r.current === 1));
  await learner.json(`/api/sessions/${joined.session.id}/hand`, { body: { raised: true }, headers: auth }, 204);
  await dash.waitFor('the hand, seen on A', seatRow((r) => r.hand));

  // A's own view of the room (a dashboard loading afresh there) has the seat as B stored it.
  const state = await instructor.json<WorkshopState>(`/api/workshops/${workshop}`);
  const row = state.rows.find((r) => r.seat === '1')!;
  assert.deepEqual([row.name, row.hand, row.steps[0]!.state, row.current], ['Ada', true, 'passed', 1]);
  assert.equal(state.labs[0]!.steps[0]!.passed, 1);
  // Event numbers stay one sequence whichever replica appended them.
  const ids = dash.events.map((e) => e.id);
  ids.slice(1).forEach((id, i) => assert.equal(id, ids[i]! + 1, 'no gap, no repeat'));
});

test('the instructor on A unlocks a step, lowers the hand, broadcasts and extends: the learner on B hears each', async () => {
  const auth = { authorization: `Bearer ${joined.session.token}` };
  // Step 2 done ahead while it is locked: its check is refused.
  await b.driver.runScript(session.box, 'mkdir -p /root/notes && mv /root/hello.txt /root/notes/', 10_000);
  await learner.json(`/api/sessions/${joined.session.id}/check`, { method: 'POST', headers: auth }, 202);
  await until('the refusal on B', () => /opened steps 1 to 1/.test(session.runner.progress().feedback?.message ?? ''));

  await instructor.json(`/api/workshops/${workshop}/pace`, { body: { unlockedStep: 2 } }, 204);
  await until('the pace on B', () => notices.some((n) => n.kind === 'workshop' && n.unlockedStep === 2));
  // Opening the step checks the work done ahead, on B, and the row comes back to A.
  await dash.waitFor('step 2 passed after unlocking on A', seatRow((r) => r.steps[1]!.state === 'passed'));

  await instructor.json(`/api/workshops/${workshop}/seats/1/hand`, { method: 'POST' }, 204);
  await until('the lowered hand on B', () => notices.some((n) => n.kind === 'hand' && !n.raised));
  await dash.waitFor('the hand down on A', seatRow((r) => !r.hand && r.steps[1]!.state === 'passed'));

  await instructor.json(`/api/workshops/${workshop}/broadcast`, { body: { message: 'Break until 11:00' } }, 204);
  await until('the broadcast on B', () => notices.some((n) => n.kind === 'broadcast' && n.message === 'Break until 11:00'));

  const { endsAt } = await instructor.json<{ endsAt: number }>(`/api/workshops/${workshop}/extend`, { body: { minutes: 10 } });
  await until('the new end on B', () => notices.some((n) => n.kind === 'workshop' && n.endsAt === endsAt));
  assert.equal((await learner.json<WorkshopState>(`/api/workshops/${workshop}`)).endsAt, endsAt, 'B reads the new end');
});

test('the instructor on A watches the learner\'s terminal on B through a relayed view, and types in it once the learner agrees', async () => {
  const term = await ProtocolClient.open(b.url, joined.session.token);
  await term.waitFor('the first prompt', () => term.prompts() > 0);
  const { ticket, terminals } = await instructor.json<{ ticket: string; terminals: string[] }>(`/api/workshops/${workshop}/seats/1/view`, { method: 'POST' });
  assert.deepEqual(terminals, ['main']);
  // The dashboard's view socket lands on A, which relays it to B, where the terminal is served.
  const view = await ProtocolClient.openView(a.url, ticket);
  term.type('echo "seen-$((6*7))"\r');
  await view.waitForText('seen-42');
  await until('B to count the viewer', () => session.viewers === 1);

  // Read-only until the learner (on B) agrees to the instructor's request (made on A).
  view.type('echo typed-too-early\r');
  await view.waitFor('the refusal', () => view.errors().some((e) => e.code === 'read-only'));
  await instructor.fetch(`/api/workshops/${workshop}/seats/1/control`, { method: 'POST', body: { on: true } });
  await until('the request on B', () => session.controlPending);
  await learner.json(`/api/sessions/${joined.session.id}/control`, { body: { grant: true }, headers: { authorization: `Bearer ${joined.session.token}` } });
  view.type('echo "typed-by-$((2*21))"\r');
  await term.waitForText('typed-by-42');
  assert.doesNotMatch(term.text, /typed-too-early/);

  // Handed back from A: B's learner types alone again.
  await instructor.fetch(`/api/workshops/${workshop}/seats/1/control`, { method: 'POST', body: { on: false } });
  await until('control back on B', () => session.control === 'learner');

  // A ticket opens one view, wherever it is used; one not signed by the replicas opens none.
  const forged = `${ticket.slice(0, -4)}${ticket.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
  for (const token of [ticket, forged]) {
    const again = await ProtocolClient.connect(a.url);
    again.send({ type: 'hello', v: PROTOCOL_VERSION, token, channel: 'view', terminal: 'main', cols: 80, rows: 24 });
    await again.waitForClose();
    assert.equal(again.closeCode, CLOSE.badToken);
  }
  view.close();
  term.close();
  await until('the view gone on B', () => session.viewers === 0);
});

test('a learner flipping their hand in a loop is slowed, and cannot flood the other replica', async () => {
  const auth = { authorization: `Bearer ${joined.session.token}` };
  const before = dash.events.length;
  const statuses: number[] = [];
  for (let i = 0; i < 30; i++) {
    statuses.push((await learner.fetch(`/api/sessions/${joined.session.id}/hand`, { body: { raised: i % 2 === 0 }, headers: auth })).status);
  }
  assert.ok(statuses.includes(429), 'refused past the burst');
  // The last state stands (raised or not, depending on where the refusals fell): lower it and wait for that.
  await learner.fetch(`/api/sessions/${joined.session.id}/hand`, { body: { raised: false }, headers: auth });
  await until('a quiet hand', async () => (await instructor.json<WorkshopState>(`/api/workshops/${workshop}`)).rows[0]!.hand === false);
  // At most one row per accepted change, coalesced: far fewer than 30.
  assert.ok(dash.events.length - before <= 12, `${dash.events.length - before} events for 30 clicks`);
});

test('replica A restarted: its new dashboard hears the seat rows B sends again when asked', async () => {
  // The seat's newest row is on the dashboard (a hand raised, once the flood's limit lets it): none is pending on B.
  const before = dash.lastId;
  const auth = { authorization: `Bearer ${joined.session.token}` };
  await until('the hand raised again', async () =>
    (await learner.fetch(`/api/sessions/${joined.session.id}/hand`, { body: { raised: true }, headers: auth })).status === 204, 15_000, 200);
  const up = await until('the hand up on A', () => dash.events.find((e) => e.id > before && e.event.type === 'seat' && e.event.row.hand));
  assert.equal(dash.events.at(-1), up, 'the raised hand is the last event');
  await dash.close();
  const lastSeen = dash.lastId;
  const exited = new Promise((resolve) => a.proc.once('exit', resolve));
  a.proc.kill('SIGTERM');
  await exited;
  a = await startReplicaProcess(aEnv);
  instructor = sameBrowserOn(instructor, a.url);
  // Resuming after the last event seen: nothing happened on the seat since, yet its row comes again,
  // because A asked at its start for the rows of its rooms.
  dash = await EventStream.open(instructor, workshop, lastSeen);
  await dash.waitFor('seat 1 sent again by B', seatRow((r) => r.hand), 20_000);
  assert.ok(dash.events.every((e) => e.id > lastSeen && e.event.type !== 'state'));
});

test('a reset on A lets the seat go: B ends its session, and the learner joining again through B gets a new box on the same seat', async () => {
  const old = session;
  await instructor.json(`/api/workshops/${workshop}/seats/1/reset`, { method: 'POST' }, 204);
  await until('the old session on B to end', () => old.endReason === 'ended');
  const again = await learner.json<JoinResponse>(`/api/w/${(await instructor.json<WorkshopState>(`/api/workshops/${workshop}`)).code}/join`, { body: { name: 'Ada' } });
  assert.equal(again.seat, '1');
  assert.notEqual(again.session.id, old.id);
  session = b.sessions.byId(again.session.id)!;
  assert.ok(session, 'the new session runs on B');
  assert.notEqual(session.box.id, old.box.id);
  session.onSeatNotice((n) => notices.push(n));
  joined = again;
  // The seat's history stays; the new box starts the lab again, and A's dashboard shows it.
  await dash.waitFor('the new box on A', seatRow((r) => r.current === 0 && r.steps[0]!.passedAt !== undefined));
});

test('the instructor ends the workshop on A: the learner on B is warned, then their session ends and its box goes', async () => {
  const { endsAt } = await instructor.json<{ endsAt: number }>(`/api/workshops/${workshop}/end`, { method: 'POST' }, 202);
  await until('the warning on B', () => notices.some((n) => n.kind === 'ending' && n.at === endsAt));
  await until('the session on B to end', () => session.endReason === 'ended', 20_000);
  await dash.waitFor('the end on A', (e) => (e.type === 'workshop' && e.phase === 'ended' ? e : undefined), 20_000);
  await b.workshops.ended(workshop);
  await until('no box of B left for the workshop', async () =>
    (await b.driver.docker.listContainers({ all: true, filters: { label: [`${LABEL.session}=${joined.session.id}`] } })).length === 0, 20_000);
  assert.equal(b.sessions.reservedBoxes(workshop), 0);
  const gone = await learner.fetch(`/api/w/${(await instructor.json<WorkshopState>(`/api/workshops/${workshop}`)).code}/join`, { body: { name: 'late' } });
  assert.equal(gone.status, 410);
});
