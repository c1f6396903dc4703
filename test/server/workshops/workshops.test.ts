// Workshops end to end on a real server, real engine and real boxes (the `hello` lab, shell
// profile): creating, warm boxes, joining by code, a full room, returning to the same seat, the
// live rows and their event stream, the instructor's actions and what assistants may not do, the
// report, and the end that destroys every box. One small room (2 seats + 1 reserve) keeps it cheap.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Docker from 'dockerode';
import type { JoinResponse, SeatNotice, SeatRow, WorkshopJoinInfo, WorkshopState } from '../../../protocol/workshops.js';
import { loadConfig } from '../../../server/config.js';
import type { LabServer } from '../../../server/lab-server.js';
import { LABEL } from '../../../server/sandbox/engine.js';
import { createSession, startTestServer, until } from '../../helpers/lab-server.js';
import { Browser, EventStream, createWorkshop } from '../../helpers/workshops.js';

const ADMIN = 'admin-token-for-the-tests-0123456789';
const docker = new Docker({ socketPath: process.env.TERMLAB_DOCKER_SOCKET ?? '/var/run/docker.sock' });

let server: LabServer;
// The hello lab twice (hello, hello-again): a two-lab workshop on cheap shell boxes.
const labsDir = mkdtempSync(path.join(os.tmpdir(), 'tl-workshop-labs-'));
let instructor: Browser;
let ws: { id: string; code: string; assistantUrl: string };

async function containers(): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${server.config.instance}`] } });
  return list.map((c) => c.Id);
}

function seatRow(state: WorkshopState, seat: string): SeatRow {
  const row = state.rows.find((r) => r.seat === seat);
  assert.ok(row, `seat ${seat} is in the state`);
  return row;
}

before(async () => {
  const hello = path.resolve(import.meta.dirname, '../../../labs/hello');
  cpSync(hello, path.join(labsDir, 'hello'), { recursive: true });
  cpSync(hello, path.join(labsDir, 'hello-again'), { recursive: true });
  server = await startTestServer({
    labsDir,
    maxSessions: 6,
    memoryBudgetMb: 512 * 20,
    // Seats must outlive the idle timeout (a learner on a break); an ordinary session does not.
    idleTimeoutMs: 1500,
    sweepIntervalMs: 250,
    workshops: {
      ...loadConfig().workshops, adminToken: ADMIN, reserve: 1, warmParallel: 2, stuckFailStreak: 2,
      codeAttemptsPerMinute: 4, endWarningMs: 400, eventsKept: 1000,
    },
  });
  instructor = new Browser(server.url);
});

after(async () => {
  await server?.stop();
  rmSync(labsDir, { recursive: true, force: true });
});

test('creating a workshop needs the admin token, valid fields, and room for its seats', async () => {
  const anyone = new Browser(server.url);
  const body = { title: 'Docker basics', labs: ['hello', 'hello-again'], seats: 2, paced: true };
  const refused = await anyone.fetch('/api/workshops', { body });
  assert.equal(refused.status, 401);
  assert.match(((await refused.json()) as { error: string }).error, /admin token/);
  const bad = await anyone.fetch('/api/workshops', { body: { ...body, seats: 0 }, headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: string }).error, /seats/);
  const noLab = await anyone.fetch('/api/workshops', { body: { ...body, labs: ['nope'] }, headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(noLab.status, 400);

  const created = await createWorkshop(instructor, body, ADMIN);
  assert.match(created.code, /^[A-HJKMNP-Z2-9]{6}$/);
  assert.equal(created.learnerUrl, `${server.url}/w/${created.code}`);
  ws = { id: created.id, code: created.code, assistantUrl: created.assistantUrl };

  // The server runs 6 sessions at most and this workshop holds 2 of them at that time.
  const tooBig = await anyone.fetch('/api/workshops', { body: { ...body, seats: 5 }, headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(tooBig.status, 409);
  const err = (await tooBig.json()) as { error: string; fits: number };
  assert.equal(err.fits, 4);
  assert.match(err.error, /can hold 4 seats/);

  // Workshops not yet ended are bounded in number (each is a room in memory and rows on disk).
  const settings = server.config.workshops;
  const maxOpen = settings.maxOpen;
  settings.maxOpen = server.workshops.liveRooms().length;
  try {
    const full = await anyone.fetch('/api/workshops', { body: { ...body, seats: 1 }, headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(full.status, 429);
    assert.match(((await full.json()) as { error: string }).error, /TERMLAB_WORKSHOPS_OPEN_MAX/);
  } finally {
    settings.maxOpen = maxOpen;
  }

  // The instructor link: the key becomes an HttpOnly, SameSite=Strict cookie, and the address loses it.
  const res = await instructor.fetch(new URL(created.instructorUrl).pathname + new URL(created.instructorUrl).search);
  assert.equal(res.status, 303);
  assert.equal(res.headers.get('location'), `/workshops/${created.id}`);
  const setCookie = res.headers.getSetCookie().join('\n');
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Strict/);
  const wrong = await anyone.fetch(`/workshops/${created.id}/enter?k=not-the-key`);
  assert.equal(wrong.status, 403);
  // The page paths are the app's page.
  const page = await anyone.fetch(`/workshops/${created.id}`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /html/);
});

test('warm boxes are started for seats plus reserve, and ordinary sessions never take them', async () => {
  await until('3 warm boxes', () => server.sessions.reservedBoxes(ws.id) === 3, 60_000);
  const state = await instructor.json<WorkshopState>(`/api/workshops/${ws.id}`);
  assert.equal(state.role, 'instructor');
  assert.equal(state.warm, 3);
  assert.equal(state.phase, 'open');
  assert.equal(state.unlockedStep, 1);
  // An ordinary lab (the server's own pool is empty in tests) gets a new box, not a reserved one.
  const ordinary = await createSession(server, 'hello');
  assert.equal(server.sessions.reservedBoxes(ws.id), 3);
  // ...and is swept when idle, which seats are not (checked below, once seated).
  await until('the idle ordinary session to end', () => !server.sessions.byId(ordinary.id), 20_000);
});

let alice: Browser;
let aliceJoin: JoinResponse;
let bob: Browser;
let bobJoin: JoinResponse;

test('learners join by code onto warm boxes; the same browser returns to the same seat and box; a full room makes no box', async () => {
  alice = new Browser(server.url);
  const info = await alice.json<WorkshopJoinInfo>(`/api/w/${ws.code.toLowerCase()}`);
  assert.deepEqual([info.title, info.seats, info.taken, info.phase, info.mySeat], ['Docker basics', 2, 0, 'open', undefined]);

  aliceJoin = await alice.json<JoinResponse>(`/api/w/${ws.code}/join`, { body: { name: '=HYPERLINK("evil")' } });
  assert.equal(aliceJoin.seat, '1');
  const session = server.sessions.byId(aliceJoin.session.id)!;
  assert.equal(session.workshop, ws.id);
  // Its box came from the reserve (the reserve is topped up to the free seats + 1 = 2).
  assert.ok(server.sessions.reservedBoxes(ws.id) <= 2);

  const again = await alice.json<JoinResponse>(`/api/w/${ws.code}/join`, { body: { name: '=HYPERLINK("evil")' } });
  assert.deepEqual([again.seat, again.session.id, again.session.token], ['1', aliceJoin.session.id, aliceJoin.session.token]);
  assert.equal((await alice.json<WorkshopJoinInfo>(`/api/w/${ws.code}`)).mySeat, '1');

  bob = new Browser(server.url);
  bobJoin = await bob.json<JoinResponse>(`/api/w/${ws.code}/join`, { body: { name: 'Bob' } });
  assert.equal(bobJoin.seat, '2');

  await until('the reserve to settle at 1', () => server.sessions.reservedBoxes(ws.id) === 1, 30_000);
  const before = (await containers()).length;
  const carol = new Browser(server.url);
  const full = await carol.fetch(`/api/w/${ws.code}/join`, { body: { name: 'Carol' } });
  assert.equal(full.status, 409);
  assert.equal(((await full.json()) as { error: string }).error, 'full (2/2)');
  assert.equal((await containers()).length, before, 'no box was made for the third learner');
  assert.equal(server.sessions.reservedBoxes(ws.id), 1, 'nor was the reserve touched');

  // Seats are exempt from the idle timeout that ended the ordinary session above.
  assert.ok(server.sessions.byId(aliceJoin.session.id), 'a seat with no page attached lives on');
});

test('checks become seat rows live; failed checks in a row flag stuck; a paced step is refused; the stream resumes without gaps or duplicates', async () => {
  const dash = await EventStream.open(instructor, ws.id);
  const first = await dash.waitFor('the state event', (e) => (e.type === 'state' ? e.state : undefined));
  assert.equal(dash.events[0]!.event.type, 'state', 'a fresh connection starts with the state');
  assert.equal(first.rows.length, 2);

  // The Check button: the outcome arrives on the session channel (and here, in the seat's row).
  const check = (): Promise<unknown> => alice.json(`/api/sessions/${aliceJoin.session.id}/check`, { method: 'POST', headers: { authorization: `Bearer ${aliceJoin.session.token}` } }, 202);
  await check();
  await dash.waitFor('seat 1 failing', (e) => (e.type === 'seat' && e.row.seat === '1' && e.row.steps[0]!.state === 'failing' ? e.row : undefined));
  await check();
  const stuck = await dash.waitFor('seat 1 stuck', (e) => (e.type === 'seat' && e.row.seat === '1' && e.row.stuck ? e.row : undefined));
  assert.equal(stuck.steps[0]!.failures, 2);
  assert.match(stuck.stuckReason ?? '', /2 failed checks in a row/);

  // The dashboard drops; meanwhile the learner passes step 1 and raises a hand.
  const lastSeen = dash.lastId;
  await dash.close();
  await until('the server to let the closed stream go', () => server.workshops.events.listening(ws.id) === 0);
  const session = server.sessions.byId(aliceJoin.session.id)!;
  await server.driver.runScript(session.box, 'echo hello > /root/hello.txt', 10_000);
  await check();
  await alice.json(`/api/sessions/${aliceJoin.session.id}/hand`, { body: { raised: true }, headers: { authorization: `Bearer ${aliceJoin.session.token}` } }, 204);
  await alice.json(`/api/sessions/${aliceJoin.session.id}/hints/2`, { body: { hint: 0 }, headers: { authorization: `Bearer ${aliceJoin.session.token}` } }, 204);

  const back = await EventStream.open(instructor, ws.id, lastSeen);
  const row = await back.waitFor('seat 1 passed step 1 with a hand up', (e) => (e.type === 'seat' && e.row.seat === '1' && e.row.hand && e.row.steps[1]!.hintsUsed === 1 && e.row.steps[0]!.state === 'passed' ? e.row : undefined));
  assert.equal(row.steps[0]!.state, 'passed');
  assert.equal(row.steps[0]!.attempts, 3);
  assert.equal(row.steps[1]!.state, 'current');
  assert.equal(row.stuck, false);
  const ids = back.events.map((e) => e.id);
  assert.equal(ids[0], lastSeen + 1, 'resumes right after the last id seen');
  ids.forEach((id, i) => assert.equal(id, lastSeen + 1 + i, 'no gap, no duplicate'));
  assert.ok(back.events.every((e) => e.event.type !== 'state'), 'a resumed stream gets no state');

  // Step 2 is not unlocked: a check of it is refused and is no attempt.
  await server.driver.runScript(session.box, 'mkdir -p /root/notes && mv /root/hello.txt /root/notes/', 10_000);
  await check();
  const locked = await until('the refusal', () => (/opened steps 1 to 1/.test(session.runner.progress().feedback?.message ?? '') ? session.runner.progress() : undefined));
  assert.equal(locked.current, 1);
  await instructor.json(`/api/workshops/${ws.id}/pace`, { body: { unlockedStep: 2 } }, 204);
  // Opening the step checks the work done ahead at once.
  const passed2 = await back.waitFor('step 2 passed after unlocking', (e) => (e.type === 'seat' && e.row.seat === '1' && e.row.steps[1]!.state === 'passed' ? e.row : undefined));
  assert.equal(passed2.steps[1]!.failures, 0);
  await back.close();
});

test('broadcast and extend reach every seated session; an assistant may view but not control, reset or end', async () => {
  const notices: SeatNotice[] = [];
  const seated = (await instructor.json<WorkshopState>(`/api/workshops/${ws.id}`)).rows.map((r) => r.seat);
  assert.deepEqual(seated.sort(), ['1', '2']);
  // Both seats are alive though no page ever attached and the idle timeout (1.5 s) passed for Bob's.
  const sessions = server.sessions.sessions().filter((s) => s.workshop === ws.id);
  assert.equal(sessions.length, 2);
  const offs = sessions.map((s) => s.onSeatNotice((n) => notices.push(n)));
  await instructor.json(`/api/workshops/${ws.id}/broadcast`, { body: { message: 'Break: back at 11:00' } }, 204);
  assert.equal(notices.filter((n) => n.kind === 'broadcast' && n.message === 'Break: back at 11:00').length, 2);
  const before = (await instructor.json<WorkshopState>(`/api/workshops/${ws.id}`)).endsAt;
  const { endsAt } = await instructor.json<{ endsAt: number }>(`/api/workshops/${ws.id}/extend`, { body: { minutes: 15 } });
  assert.equal(endsAt, before + 15 * 60_000);
  assert.equal(notices.filter((n) => n.kind === 'workshop' && n.endsAt === endsAt).length, 2, 'every countdown moves');
  offs.forEach((off) => off());

  const assistant = new Browser(server.url);
  await assistant.enter(ws.assistantUrl);
  assert.equal((await assistant.json<WorkshopState>(`/api/workshops/${ws.id}`)).role, 'assistant');
  for (const [path, body] of [['seats/1/control', { on: true }], ['seats/1/reset', undefined], ['end', undefined]] as const) {
    const res = await assistant.fetch(`/api/workshops/${ws.id}/${path}`, { method: 'POST', body });
    assert.equal(res.status, 403, path);
  }
  assert.equal(server.sessions.byId(aliceJoin.session.id)?.controlPending, false);
  const view = await assistant.json<{ ticket: string; terminals: string[] }>(`/api/workshops/${ws.id}/seats/1/view`, { method: 'POST' });
  assert.deepEqual(view.terminals, ['main']);
  assert.deepEqual(server.sessions.viewTickets.redeem(view.ticket), { session: aliceJoin.session.id, workshop: ws.id, role: 'assistant' });

  // The instructor may ask for control: the learner's page is asked.
  await instructor.json(`/api/workshops/${ws.id}/seats/1/control`, { body: { on: true } }, 202);
  assert.equal(server.sessions.byId(aliceJoin.session.id)?.controlPending, true);

  // A learner sees their own row only, and not the room's stream.
  const own = await alice.json<WorkshopState>(`/api/workshops/${ws.id}`);
  assert.deepEqual([own.role, own.rows.map((r) => r.seat)], ['learner', ['1']]);
  assert.equal((await alice.fetch(`/api/workshops/${ws.id}/events`)).status, 403);
});

test("workshop A's instructor cannot read workshop B", async () => {
  const other = new Browser(server.url);
  // Tomorrow: no boxes warm for it during this test.
  const b = await createWorkshop(other, { title: 'B', labs: ['hello'], seats: 1, startsAt: Date.now() + 24 * 3600_000 }, ADMIN);
  await other.enter(b.instructorUrl);
  assert.equal(server.sessions.reservedBoxes(b.id), 0, 'no warm-up a day ahead');
  assert.equal((await other.json<WorkshopState>(`/api/workshops/${b.id}`)).role, 'instructor');
  assert.equal((await instructor.fetch(`/api/workshops/${b.id}`)).status, 404);
  assert.equal((await instructor.fetch(`/api/workshops/${b.id}/report`)).status, 404);
  assert.equal((await instructor.fetch(`/api/workshops/${b.id}/end`, { method: 'POST' })).status, 404);
  // A's key presented as B's cookie opens nothing either.
  const forged = new Browser(server.url);
  forged.cookies.set(`tl_ws_${b.id}`, instructor.cookies.get(`tl_ws_${ws.id}`)!);
  assert.equal((await forged.fetch(`/api/workshops/${b.id}`)).status, 404);
  // Joining before it opens: 409 with the start time.
  const early = await other.fetch(`/api/w/${b.code}/join`, { body: { name: 'Early' } });
  assert.equal(early.status, 409);
  assert.equal(((await early.json()) as { startsAt: number }).startsAt, (await other.json<WorkshopState>(`/api/workshops/${b.id}`)).startsAt);
});

test('reset gives the seat a new box from the reserve; the seat and its history stay', async () => {
  const oldBox = server.sessions.byId(aliceJoin.session.id)!.box.id;
  await until('a reserve box', () => server.sessions.reservedBoxes(ws.id) === 1, 30_000);
  await instructor.json(`/api/workshops/${ws.id}/seats/1/reset`, { method: 'POST' }, 204);
  await assert.rejects(docker.getContainer(oldBox).inspect(), /no such container/i);
  const again = await alice.json<JoinResponse>(`/api/w/${ws.code}/join`, { body: { name: '=HYPERLINK("evil")' } });
  assert.equal(again.seat, '1');
  assert.notEqual(again.session.id, aliceJoin.session.id);
  assert.notEqual(server.sessions.byId(again.session.id)!.box.id, oldBox);
  const row = seatRow(await instructor.json<WorkshopState>(`/api/workshops/${ws.id}`), '1');
  assert.equal(row.steps[0]!.passedAt !== undefined && row.steps[0]!.attempts, 3, 'history kept');
  assert.equal(row.current, 0, 'the new box starts the lab again');
  aliceJoin = again;
});

test('a learner who finished the lab moves on to the next one on the same seat; the first stays in the history', async () => {
  const auth = { authorization: `Bearer ${aliceJoin.session.token}` };
  const early = await alice.fetch(`/api/sessions/${aliceJoin.session.id}/next-lab`, { method: 'POST', headers: auth });
  assert.equal(early.status, 409);
  assert.match(((await early.json()) as { error: string }).error, /finish this lab first: 0 of 3/);
  await instructor.json(`/api/workshops/${ws.id}/pace`, { body: { unlockedStep: 3 } }, 204);
  const session = server.sessions.byId(aliceJoin.session.id)!;
  // Step by step: step 2's solution undoes what step 1's check looks for.
  for (const [i, step] of session.lab.steps.entries()) {
    const done = await server.driver.runScript(session.box, step.solution, 10_000);
    assert.equal(done.exitCode, 0, done.output);
    await alice.json(`/api/sessions/${aliceJoin.session.id}/check`, { method: 'POST', headers: auth }, 202);
    await until(`step ${i + 1} passed`, () => session.runner.progress().current > i);
  }
  assert.ok(session.runner.progress().finished);
  const moved = await alice.json<JoinResponse>(`/api/sessions/${aliceJoin.session.id}/next-lab`, { method: 'POST', headers: auth });
  assert.deepEqual([moved.seat, moved.session.lab], ['1', 'hello-again']);
  assert.equal(session.endReason, 'ended');
  const state = await instructor.json<WorkshopState>(`/api/workshops/${ws.id}`);
  const row = seatRow(state, '1');
  assert.deepEqual([row.lab, row.current], ['hello-again', 0]);
  assert.deepEqual(state.labs.map((l) => l.steps.map((s) => s.passed)), [[1, 1, 1], [0, 0, 0]]);
  const last = await alice.fetch(`/api/sessions/${moved.session.id}/next-lab`, { method: 'POST', headers: { authorization: `Bearer ${moved.session.token}` } });
  assert.equal(last.status, 409, 'hello-again is the last lab (and not finished)');
  aliceJoin = moved;
});

test('the report has a row per seat and step, and its CSV escapes formulas', async () => {
  // Bob records his terminal: the report links to it.
  const rec = await bob.json<{ id: string; share: string }>(`/api/sessions/${bobJoin.session.id}/terminals/main/recording`,
    { body: { on: true }, headers: { authorization: `Bearer ${bobJoin.session.token}` } }, 201);
  await until('the recording on the seat', async () => seatRow(await instructor.json<WorkshopState>(`/api/workshops/${ws.id}`), '2').recordings.includes(rec.id));
  const rows = await instructor.json<Array<{ seat: string; step: number; status: string; attempts: number; hintsUsed: number }>>(`/api/workshops/${ws.id}/report`);
  // Seat 1: both labs; seat 2: the first.
  assert.equal(rows.length, 3 * 3);
  const s1 = rows.filter((r) => r.seat === '1');
  assert.deepEqual(s1.map((r) => r.status), ['passed', 'passed', 'passed', 'current', 'not-reached', 'not-reached']);
  assert.equal(s1[1]!.hintsUsed, 1);
  const res = await instructor.fetch(`/api/workshops/${ws.id}/report?format=csv`);
  assert.match(res.headers.get('content-type') ?? '', /text\/csv/);
  const lines = (await res.text()).trim().split('\r\n');
  assert.equal(lines.length, 1 + 9);
  // Four attempts at step 1: two failures, the pass, and the pass again in the box the reset gave.
  assert.ok(lines[1]!.startsWith(`1,"'=HYPERLINK(""evil"")",hello,1,Make a file,passed,4,2,`), lines[1]);
  assert.ok(lines.some((l) => l.startsWith('2,Bob,hello,1,Make a file,current,0,0,') && l.endsWith(`,/watch/${rec.share}`)), lines.join('\n'));
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, /termlab_workshop_seats\{state="offline"\} 2/);
  assert.match(metrics, /termlab_workshop_reserved_boxes \d/);
  assert.match(metrics, /termlab_workshop_event_delay_seconds_count \d+/);
});

test('the end warns every page, then ends the sessions and destroys every box, reserve included', async () => {
  const sessions = server.sessions.sessions().filter((s) => s.workshop === ws.id);
  assert.equal(sessions.length, 2);
  const warned = sessions.map((s) => new Promise<SeatNotice>((resolve) => s.onSeatNotice((n) => { if (n.kind === 'ending') resolve(n); })));
  const { endsAt } = await instructor.json<{ endsAt: number }>(`/api/workshops/${ws.id}/end`, { method: 'POST' }, 202);
  const notices = await Promise.all(warned);
  assert.ok(notices.every((n) => n.kind === 'ending' && n.at === endsAt));
  await until('the workshop to end', async () => (await instructor.json<WorkshopState>(`/api/workshops/${ws.id}`)).phase === 'ended', 15_000);
  await server.workshops.ended(ws.id);
  assert.ok(sessions.every((s) => s.endReason === 'ended'));
  assert.equal(server.recordings.runningCount, 0, "Bob's recording was closed");
  assert.deepEqual(await containers(), [], 'no box is left');
  assert.equal(server.sessions.reservedBoxes(ws.id), 0);
  const gone = await alice.fetch(`/api/w/${ws.code}/join`, { body: { name: 'late' } });
  assert.equal(gone.status, 410);
  // The report stays.
  assert.equal((await instructor.json<unknown[]>(`/api/workshops/${ws.id}/report`)).length, 9);
});

// Last: every test client here shares 127.0.0.1, so once it is limited the others would be too.
test('guessing join codes is rate limited per address', async () => {
  const guesser = new Browser(server.url);
  const statuses: number[] = [];
  for (const code of ['AAAAAA', 'BBBBBB', 'CCCCCC', 'DDDDDD', 'EEEEEE']) statuses.push((await guesser.fetch(`/api/w/${code}`)).status);
  assert.deepEqual(statuses, [404, 404, 404, 404, 429]);
  const limited = await guesser.fetch(`/api/w/${ws.code}`);
  assert.equal(limited.status, 429, 'once limited, even a right code waits');
  assert.ok(Number(limited.headers.get('retry-after')) > 0);
});
