// The session channel on a real server with real boxes: progress reaches the page there and only
// there, the Check button's outcome arrives on it, workshop notices and the session's end too.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { LabServer } from '../../../server/lab-server.js';
import { createSession, startTestServer } from '../../helpers/lab-server.js';
import { ProtocolClient } from '../../helpers/protocol-client.js';

let server: LabServer;
before(async () => { server = await startTestServer(); });
after(async () => { await server?.stop(); });

test('progress comes on the session channel, on a pass and on Check; terminal sockets carry none', async () => {
  const s = await createSession(server, 'hello');
  const term = await ProtocolClient.open(server.url, s.token);
  const ch = await ProtocolClient.openSession(server.url, s.token);
  const ready = ch.of('session-ready')[0]!;
  assert.equal(ready.session, s.id);
  assert.ok(ready.expiresAt > Date.now() && ready.idleTimeoutMs > 0);
  // The state as it is, at once.
  assert.deepEqual(ch.of('lab')[0]?.progress.steps, ['current', 'pending', 'pending']);

  term.type('echo hello > ~/hello.txt\r');
  await ch.waitFor('step 1 passed', () => ch.of('lab').some((m) => m.progress.steps[0] === 'done'), 15_000);

  // Check: the HTTP answer is an acknowledgement; the outcome (a failure here) comes on the channel.
  const seen = ch.of('lab').length;
  const res = await fetch(`${server.url}/api/sessions/${s.id}/check`, { method: 'POST', headers: { authorization: `Bearer ${s.token}` } });
  assert.equal(res.status, 202);
  await ch.waitFor('the check\'s outcome', () => ch.of('lab').slice(seen).some((m) => !m.progress.checking && m.progress.feedback?.step === 1), 15_000);
  assert.equal(ch.of('lab').at(-1)!.progress.feedback!.passed, false);

  // The terminal socket saw the command's output and no progress at all.
  assert.match(term.text, /echo hello/);
  assert.equal(term.of('lab').length, 0);
  term.close();

  // Input on the channel is named and refused; the channel goes on.
  ch.type('ls\r');
  await ch.waitFor('wrong-channel', () => ch.errors().some((e) => e.code === 'wrong-channel' && !e.fatal));
  ch.send({ type: 'ping', id: 7 });
  await ch.waitFor('pong', () => ch.of('pong').some((m) => m.id === 7));
  ch.close();
});

test('workshop notices reach the channel, state is repeated to a page that connects later, and the end closes it', async () => {
  const s = await createSession(server, 'hello');
  const session = server.sessions.byId(s.id)!;
  const ch = await ProtocolClient.openSession(server.url, s.token);
  session.notify({ kind: 'broadcast', message: 'break until 11:00', at: 1 });
  session.notify({ kind: 'hand', raised: true });
  await ch.waitFor('seat notices', () => ch.of('seat').length === 2);
  assert.deepEqual(ch.of('seat').map((m) => m.notice.kind), ['broadcast', 'hand']);
  session.requestControl();
  await ch.waitFor('control requested', () => ch.of('seat').some((m) => m.notice.kind === 'control' && m.notice.state === 'requested'));

  // A page that reconnects learns the raised hand and the pending request (not the old broadcast).
  const later = await ProtocolClient.openSession(server.url, s.token);
  await later.waitFor('state', () => later.of('seat').length === 2);
  assert.deepEqual(later.of('seat').map((m) => m.notice), [{ kind: 'hand', raised: true }, { kind: 'control', state: 'requested' }]);

  // The learner declines: control stays theirs, and every page drops the request.
  const declined = await fetch(`${server.url}/api/sessions/${s.id}/control`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${s.token}` }, body: '{"grant":false}',
  });
  assert.deepEqual(await declined.json(), { control: 'learner' });
  await later.waitFor('the request withdrawn', () => later.of('seat').at(-1)?.notice.kind === 'control');
  assert.deepEqual(later.of('seat').at(-1)?.notice, { kind: 'control', state: 'learner' });
  assert.equal(session.controlPending, false);

  const del = await fetch(`${server.url}/api/sessions/${s.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${s.token}` } });
  assert.equal(del.status, 204);
  await ch.waitForClose();
  assert.equal(ch.closeCode, 4004);
  assert.equal(ch.of('exit')[0]?.reason, 'ended');
  await later.waitForClose();
});

test('a session hello with a bad token is refused like a terminal one', async () => {
  const c = await ProtocolClient.connect(server.url);
  c.send({ type: 'hello', v: 1, token: 'x'.repeat(43), channel: 'session' });
  await c.waitForClose();
  assert.equal(c.closeCode, 4003);
  assert.equal(c.errors()[0]?.code, 'bad-token');
});
