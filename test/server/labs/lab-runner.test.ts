// Live step checks through a real server and real boxes: a finished command turns the step green by
// itself, failures carry the check's own words, progress survives reconnects, and port links reach
// only their own session's box.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { LabContent, LabProgress } from '../../../protocol/api.js';
import type { LabServer } from '../../../server/lab-server.js';
import { startTestServer } from '../../helpers/lab-server.js';
import { ProtocolClient } from '../../helpers/protocol-client.js';

let server: LabServer;
before(async () => { server = await startTestServer(); });
after(async () => { await server?.stop(); });

async function start(lab: string): Promise<{ id: string; token: string; cookie: string }> {
  const res = await fetch(`${server.url}/api/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lab }) });
  assert.equal(res.status, 201);
  const body = await res.json() as { id: string; token: string };
  // The port cookie, scoped to /p/<session>/ (the learner cookie comes too).
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]!).find((c) => c.startsWith(`tl_${body.id}=`))!;
  return { ...body, cookie };
}

function lastProgress(c: ProtocolClient): LabProgress | undefined {
  const m = c.messages.filter((x) => x.type === 'lab').at(-1);
  return m?.type === 'lab' ? m.progress : undefined;
}

const api = (s: { id: string; token: string }, path: string, method = 'GET') =>
  fetch(`${server.url}/api/sessions/${s.id}${path}`, { method, headers: { authorization: `Bearer ${s.token}` } });

test('a finished command turns its step green without a click; mistakes get the check\'s words', async () => {
  const s = await start('hello');
  const c = await ProtocolClient.open(server.url, s.token);
  // Progress comes on the session channel only (terminal sockets carry none).
  const ch = await ProtocolClient.openSession(server.url, s.token);
  await ch.waitFor('first lab message', () => lastProgress(ch) !== undefined);
  assert.deepEqual(lastProgress(ch)!.steps, ['current', 'pending', 'pending']);

  c.type('echo hello > ~/hello.txt\r');
  await ch.waitFor('step 1 done', () => lastProgress(ch)?.steps[0] === 'done', 10_000);
  assert.equal(lastProgress(ch)!.current, 1);

  // A deliberate mistake: copy instead of move.
  c.type('mkdir -p ~/notes && cp ~/hello.txt ~/notes/\r');
  await ch.waitFor('feedback on step 2', () => {
    const p = lastProgress(ch);
    return p?.feedback?.step === 1 && !p.feedback.passed && !p.checking;
  }, 10_000);
  assert.match(lastProgress(ch)!.feedback!.message, /hello\.txt is still in \/root: move it/);

  // The Check button is acknowledged; its outcome arrives on the channel like any other check's.
  const before = ch.of('lab').length;
  const earlier = lastProgress(ch)!.feedback!.at;
  const checked = await api(s, '/check', 'POST');
  assert.equal(checked.status, 202);
  assert.deepEqual(await checked.json(), { accepted: true });
  await ch.waitFor('the checked progress', () => ch.of('lab').slice(before).some((m) => !m.progress.checking && (m.progress.feedback?.at ?? 0) > earlier), 10_000);
  assert.equal(lastProgress(ch)!.current, 1);
  assert.equal(lastProgress(ch)!.feedback?.passed, false);
  assert.equal(c.of('lab').length, 0, 'no progress on the terminal socket');
  c.close();
  ch.close();

  // Reconnect: progress is kept.
  const again = await ProtocolClient.open(server.url, s.token);
  const ch2 = await ProtocolClient.openSession(server.url, s.token);
  await ch2.waitFor('lab message', () => lastProgress(ch2) !== undefined);
  assert.deepEqual(lastProgress(ch2)!.steps, ['done', 'current', 'pending']);
  again.type('rm ~/hello.txt\r');
  await ch2.waitFor('step 2 done', () => lastProgress(ch2)?.steps[1] === 'done', 10_000);
  again.close();
  ch2.close();
});

test('the guide gets the text and hints, never checks or setups; show-me gets the solution', async () => {
  const s = await start('hello');
  const content = await (await api(s, '/lab')).json() as LabContent;
  assert.equal(content.steps.length, 3);
  assert.equal(content.steps[0]!.title, 'Make a file');
  assert.ok(content.steps[0]!.hints.length >= 1);
  const raw = JSON.stringify(content);
  assert.doesNotMatch(raw, /There is no file \/root\/hello\.txt yet/, 'check scripts stay on the server');
  const solution = await (await api(s, '/steps/1/solution', 'POST')).json() as { terminal: string; solution: string };
  assert.equal(solution.terminal, 'main');
  assert.match(solution.solution, /echo hello > \/root\/hello\.txt/);
  assert.equal((await api(s, '/steps/9/solution', 'POST')).status, 404);
  assert.equal((await fetch(`${server.url}/api/sessions/${s.id}/lab`)).status, 404, 'no token, no content');
});

test('finishing every step finishes the lab', async () => {
  const s = await start('hello');
  const c = await ProtocolClient.open(server.url, s.token);
  const ch = await ProtocolClient.openSession(server.url, s.token);
  c.type('echo hello > ~/hello.txt\r');
  await ch.waitFor('step 1 done', () => lastProgress(ch)?.steps[0] === 'done', 10_000);
  c.type('mkdir ~/notes; mv ~/hello.txt ~/notes/; sleep 1000 &\r');
  // One command completes steps 2 and 3: after a pass the next step is checked at once.
  await ch.waitFor('finished', () => lastProgress(ch)?.finished === true, 15_000).catch((err) => { throw new Error(`${err.message}\nprogress: ${JSON.stringify(lastProgress(ch))}`); });
  assert.deepEqual(lastProgress(ch)!.steps, ['done', 'done', 'done']);
  c.close();
  ch.close();
});

test("port links reach the session's own box, and only with its cookie", async () => {
  const a = await start('hello-docker');
  const b = await start('hello-docker');
  const c = await ProtocolClient.open(server.url, a.token);
  c.type('docker run -d --name web -p 8080:80 web; until curl -fs localhost:8080 >/dev/null; do sleep 0.1; done; echo up-$((2+2))\r');
  await c.waitForText('up-4', 30_000);
  const url = `${server.url}/p/${a.id}/lab/8080/`;
  const ok = await fetch(url, { headers: { cookie: a.cookie } });
  assert.equal(ok.status, 200);
  assert.match(await ok.text(), /termlab/i);
  assert.equal((await fetch(url)).status, 403, 'no cookie');
  assert.equal((await fetch(url, { headers: { cookie: b.cookie.replace(b.id, a.id) } })).status, 403, "another session's token");
  const nothing = await fetch(`${server.url}/p/${a.id}/lab/9999/`, { headers: { cookie: a.cookie } });
  assert.equal(nothing.status, 502);
  assert.match(await nothing.text(), /Nothing answers on lab:9999/);
  c.close();
});

test('operators see sessions, box start times and check outcomes at /metrics', async () => {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(text, /^termlab_sessions \d+/m);
  assert.match(text, /^termlab_sessions_started_total\{lab="hello",pooled="false"\} [1-9]/m);
  assert.match(text, /^termlab_checks_total\{result="pass",source="command"\} [1-9]/m);
  assert.match(text, /^termlab_checks_total\{result="fail",source="button"\} [1-9]/m);
  assert.match(text, /^termlab_session_start_seconds_count\{profile="docker",pooled="false"\} [1-9]/m);
});
