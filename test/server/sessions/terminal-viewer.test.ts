// Read-only views of a learner's terminal on a real server with real boxes: the screen at once
// (full-screen programs too), then live output; nothing a viewer sends reaches the shell or its
// size; tickets open one view; a slow viewer is dropped while the learner's flood goes on; with
// the learner's consent the instructor's view types, and recordings mark it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, mock, test } from 'node:test';
import type { LabServer } from '../../../server/lab-server.js';
import type { Session } from '../../../server/sessions/session.js';
import { VIEW_TICKET_TTL_MS, ViewTickets } from '../../../server/sessions/view-tickets.js';
import { VIEWER_QUEUE_BYTES } from '../../../server/sessions/terminal-viewer.js';
import { createSession, startTestServer, until } from '../../helpers/lab-server.js';
import { ProtocolClient } from '../../helpers/protocol-client.js';
import { setRecording, startRecording, startSession } from '../../helpers/recordings.js';

const WORKSHOP = 'w-test';
let server: LabServer;
before(async () => { server = await startTestServer(); });
after(async () => { await server?.stop(); });

interface Seated { id: string; token: string; session: Session; learner: ProtocolClient }

/** A session seated in a workshop, its learner's terminal at a prompt. */
async function seated(s?: { id: string; token: string }): Promise<Seated> {
  const { id, token } = s ?? await createSession(server, 'hello');
  const session = server.sessions.byId(id)!;
  session.workshop = WORKSHOP;
  const learner = await ProtocolClient.open(server.url, token);
  await learner.waitForText('# ');
  return { id, token, session, learner };
}

const ticket = (id: string, role: 'instructor' | 'assistant' = 'instructor') => server.sessions.viewTickets.issue({ session: id, workshop: WORKSHOP, role });
const screen = (v: ProtocolClient) => (v.snapshot ?? '') + v.text;

/** Resolves once the server has handled everything `c` sent before (its messages are handled in order). */
async function handled(c: ProtocolClient): Promise<void> {
  const id = Math.floor(Math.random() * 1e9);
  c.send({ type: 'ping', id });
  await c.waitFor('pong', () => c.of('pong').some((m) => m.id === id));
}

/** Runs `command` in the learner's shell and resolves once `marker` (computed by the shell, so not the echo of the typing) appeared. */
async function run(l: ProtocolClient, command: string, marker: string): Promise<void> {
  l.type(`${command}\r`);
  await l.waitForText(marker, 15_000);
}

test('a view gets the screen at once, then what the learner does, live; the learner sees "being viewed"', async () => {
  const { id, token, learner, session } = await seated();
  const ch = await ProtocolClient.openSession(server.url, token);
  await run(learner, 'echo early-$((2*3))', 'early-6');
  const view = await ProtocolClient.openView(server.url, ticket(id), { cols: 120, rows: 40 });
  // Before ready: the snapshot and the bytes the mirror had yet to parse when it was taken.
  assert.ok(view.snapshot !== undefined);
  assert.match(screen(view), /early-6/, 'the earlier output is on the screen the view got');
  // The learner's size, before the snapshot and in ready; who types and whether this view may.
  assert.deepEqual(view.of('resized')[0], { type: 'resized', cols: 80, rows: 24 });
  assert.deepEqual(view.of('control')[0], { type: 'control', control: 'learner', canType: false });
  assert.equal(view.of('ready')[0]?.cols, 80);
  await ch.waitFor('viewers 1', () => ch.of('seat').some((m) => m.notice.kind === 'viewers' && m.notice.count === 1));
  assert.equal(session.viewers, 1);

  await run(learner, 'echo live-$((6*7))', 'live-42');
  await view.waitForText('live-42');
  // The learner resizes: the view hears the new size in order with the output.
  learner.send({ type: 'resize', cols: 100, rows: 30 });
  await view.waitFor('resized', () => view.of('resized').some((m) => m.cols === 100 && m.rows === 30));

  view.close();
  await ch.waitFor('viewers 0', () => ch.of('seat').some((m) => m.notice.kind === 'viewers' && m.notice.count === 0));
  assert.equal(learner.closeCode, undefined, 'the learner\'s socket was never replaced');
  learner.close();
  ch.close();
});

test('full-screen programs (top, vi) are shown in a view', async () => {
  const { id, learner } = await seated();
  learner.type('top -d 1\r');
  await learner.waitForText(/PID\s+USER/);
  const view = await ProtocolClient.openView(server.url, ticket(id));
  // The screen: the snapshot, plus what the mirror had not parsed yet when it was taken.
  await view.waitFor('top\'s screen', () => /top - .*load average/.test(screen(view)) && /PID\s+USER/.test(screen(view)));
  // top reads its keys raw and drops what comes after its q: wait for the shell's prompt before typing on.
  const before = learner.text.length;
  learner.type('q');
  await learner.waitFor('the prompt after top', () => learner.text.slice(before).includes('\x1b]6973;prompt;'));
  await run(learner, 'echo after-top-$((1+1))', 'after-top-2');
  await view.waitForText('after-top-2');
  view.close();

  // vi draws on the alternate screen: the snapshot switches to it too.
  const mark = learner.text.length;
  learner.type('vi /etc/os-release\r');
  await learner.waitFor('vi', () => learner.text.slice(mark).includes('"/etc/os-release"'));
  const inVi = await ProtocolClient.openView(server.url, ticket(id));
  await inVi.waitFor('vi\'s screen', () => screen(inVi).includes('\x1b[?1049h') && /PRETTY_NAME="Debian/.test(screen(inVi)));
  const quit = learner.text.length;
  learner.type('\x1b:q!\r');
  await learner.waitFor('the prompt after vi', () => learner.text.slice(quit).includes('\x1b]6973;prompt;'));
  await run(learner, 'echo after-vi-$((2+3))', 'after-vi-5');
  await inVi.waitForText('after-vi-5');
  inVi.close();
  learner.close();
});

test('nothing a viewer types or sends reaches the shell, and its size never becomes the learner\'s', async () => {
  const { id, learner, session } = await seated();
  const view = await ProtocolClient.openView(server.url, ticket(id), { cols: 150, rows: 50 });
  view.type('echo VIEWERTYPED-$((1+1))\r');
  view.sendRaw(JSON.stringify({ type: 'input', data: 'echo RAWFRAME-$((2+2))\r' }));
  view.sendRaw(Buffer.from('echo BINARYFRAME\r'), true);
  view.send({ type: 'resize', cols: 200, rows: 60 });
  await handled(view);
  assert.ok(view.errors().some((e) => e.code === 'binary-not-accepted'));
  const refusals = view.errors().filter((e) => e.code === 'read-only');
  assert.ok(refusals.length >= 1, 'the viewer is told');
  assert.ok(refusals.every((e) => !e.fatal));
  assert.equal(view.closeCode, undefined, 'the view goes on');

  await run(learner, 'stty size | sed s/^/size=/; history | tail -n 5; echo fence-$((3*3))', 'fence-9');
  assert.match(learner.text, /size=24 80\r\n/, 'the learner\'s size stands');
  assert.doesNotMatch(learner.text, /VIEWERTYPED|RAWFRAME|BINARYFRAME/);
  assert.doesNotMatch(view.text, /VIEWERTYPED|RAWFRAME/);
  assert.equal(session.terminal('main', { cols: 1, rows: 1 }).size.cols, 80);
  view.close();
  learner.close();
});

test('a ticket opens one view; a used, unknown, expired or stale ticket is refused', async () => {
  const { id, token, learner, session } = await seated();
  const t = ticket(id);
  const first = await ProtocolClient.openView(server.url, t);
  const refused = async (token: string, why: RegExp): Promise<void> => {
    const c = await ProtocolClient.connect(server.url);
    c.send({ type: 'hello', v: 1, token, channel: 'view', cols: 80, rows: 24 });
    await c.waitForClose();
    assert.equal(c.closeCode, 4003);
    assert.equal(c.errors()[0]?.code, 'bad-token');
    assert.match(c.errors()[0]!.message, why);
  };
  await refused(t, /already used or has expired/);
  await refused('z'.repeat(32), /already used or has expired/);
  // A ticket outlives nothing: the seat left the workshop (a reset), so its ticket is worthless.
  const stale = ticket(id);
  session.workshop = 'w-other';
  await refused(stale, /no longer in this workshop/);
  session.workshop = WORKSHOP;
  // A learner's session token is no view ticket.
  await refused(token, /already used or has expired/);
  first.close();
  learner.close();

  // Expiry, on the tickets themselves (the clock moved on, not waited for).
  const tickets = new ViewTickets();
  mock.timers.enable({ apis: ['Date'], now: Date.now() });
  try {
    const old = tickets.issue({ session: id, workshop: WORKSHOP, role: 'instructor' });
    mock.timers.tick(VIEW_TICKET_TTL_MS + 1);
    assert.equal(tickets.redeem(old), undefined);
  } finally {
    mock.timers.reset();
  }
});

test('signed tickets (replicas sharing a key): any replica with the key reads them, one redeem each, none forged, none expired', () => {
  const key = Buffer.alloc(32, 7);
  const issuing = new ViewTickets(key);
  const serving = new ViewTickets(key);
  const stranger = new ViewTickets(Buffer.alloc(32, 8));
  const grant = { session: 'abcdefghijkl', workshop: 'W0rkshop42', role: 'assistant' as const };
  const t = issuing.issue(grant);
  assert.match(t, /^[A-Za-z0-9_-]{32,128}$/, 'shaped as a session token, as the protocol requires of a hello\'s token');
  assert.deepEqual(issuing.peek(t), grant, 'the replica a view lands on reads where to relay it, without using it up');
  assert.deepEqual(serving.redeem(t), grant);
  assert.equal(serving.redeem(t), undefined, 'one view per ticket');
  assert.equal(stranger.peek(t), undefined, 'another instance\'s key does not read it');
  const flipped = `${t.slice(0, 10)}${t[10] === 'A' ? 'B' : 'A'}${t.slice(11)}`;
  assert.equal(serving.redeem(flipped), undefined, 'a changed ticket is refused');
  mock.timers.enable({ apis: ['Date'], now: Date.now() });
  try {
    const old = issuing.issue(grant);
    mock.timers.tick(VIEW_TICKET_TTL_MS + 1000);
    assert.equal(serving.redeem(old), undefined);
  } finally {
    mock.timers.reset();
  }
});

test('a viewer that never reads is dropped while the learner\'s flood goes on', async () => {
  const { id, learner, session } = await seated();
  learner.keepBytes = 64 * 1024;
  const view = await ProtocolClient.openView(server.url, ticket(id));
  // The view's page stops reading: TCP fills, then the server's queue for it.
  (view.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
  const startedAt = learner.offset;
  learner.type('yes 0123456789abcdefghijklmnopqrstuvwxyz\r');
  await until('the slow viewer dropped', () => session.viewers === 0, 60_000);
  const atDrop = learner.offset;
  assert.ok(atDrop - startedAt > VIEWER_QUEUE_BYTES, `the learner got ${atDrop - startedAt} bytes while the viewer read nothing`);
  // The flood goes on at the learner's pace after the drop.
  await learner.waitFor('more flood', () => learner.offset > atDrop + 4 * 1024 * 1024, 30_000);
  learner.type('\x03');
  await run(learner, 'echo stopped-$((5+5))', 'stopped-10');

  // The view's page reads again: what was queued, then why it was dropped (it reconnects with a new ticket).
  view.autoAck = false;
  (view.ws as unknown as { _socket: { resume(): void } })._socket.resume();
  await view.waitForClose(30_000);
  assert.equal(view.closeCode, 4008);
  assert.equal(view.errors().at(-1)?.code, 'too-slow');
  const again = await ProtocolClient.openView(server.url, ticket(id));
  await again.waitFor('the screen now', () => screen(again).includes('stopped-10'));
  again.close();
  learner.close();
});

test('with the learner\'s consent the instructor\'s view types; taken back, it is refused again; an assistant never types; recordings mark it', async () => {
  const s = await startSession(server);
  const { id, token, learner, session } = await seated(s);
  const rec = await startRecording(server, s);
  const ch = await ProtocolClient.openSession(server.url, token);
  const instructor = await ProtocolClient.openView(server.url, ticket(id, 'instructor'));
  const assistant = await ProtocolClient.openView(server.url, ticket(id, 'assistant'));
  const control = (grant: unknown) => fetch(`${server.url}/api/sessions/${id}/control`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ grant }),
  });

  // Not asked for, no grant; a bad body is named; another session's token may not grant.
  assert.equal((await control(true)).status, 409);
  assert.equal((await control('yes')).status, 400);
  const foreign = await fetch(`${server.url}/api/sessions/${id}/control`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${'x'.repeat(43)}` }, body: '{"grant":true}',
  });
  assert.equal(foreign.status, 404);

  session.requestControl();
  await ch.waitFor('the request', () => ch.of('seat').some((m) => m.notice.kind === 'control' && m.notice.state === 'requested'));
  const granted = await control(true);
  assert.equal(granted.status, 200);
  assert.deepEqual(await granted.json(), { control: 'instructor' });
  await instructor.waitFor('can type', () => instructor.of('control').at(-1)?.canType === true);
  await assistant.waitFor('control changed', () => assistant.of('control').at(-1)?.control === 'instructor');
  assert.equal(assistant.of('control').at(-1)?.canType, false);

  instructor.type('echo instr-$((3+4))\r');
  await learner.waitForText('instr-7');
  assistant.type('echo ASSISTANT-$((1+1))\r');
  await handled(assistant);
  assert.ok(assistant.errors().some((e) => e.code === 'read-only' && /assistant/.test(e.message)));

  // The learner takes it back.
  const back = await control(false);
  assert.deepEqual(await back.json(), { control: 'learner' });
  await instructor.waitFor('read-only again', () => instructor.of('control').at(-1)?.canType === false);
  instructor.type('echo AFTERBACK-$((4+4))\r');
  await handled(instructor);
  assert.ok(instructor.errors().some((e) => e.code === 'read-only'));
  await run(learner, 'echo fence-$((2+9))', 'fence-11');
  assert.doesNotMatch(learner.text, /AFTERBACK-8|ASSISTANT-2/);

  assert.equal((await setRecording(server, s, false)).status, 204);
  const markers = fs.readFileSync(server.recordings.store.file(rec.id), 'utf8').split('\n').filter(Boolean).slice(1)
    .map((line) => JSON.parse(line) as [number, string, string]).filter((e) => e[1] === 'm').map((e) => e[2]);
  assert.deepEqual(markers.filter((m) => m.startsWith('control')), ['control: instructor', 'control: learner']);
  for (const c of [instructor, assistant, learner, ch]) c.close();
});
