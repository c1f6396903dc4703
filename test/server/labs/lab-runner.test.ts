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
  await c.waitFor('first lab message', () => lastProgress(c) !== undefined);
  assert.deepEqual(lastProgress(c)!.steps, ['current', 'pending', 'pending']);

  c.type('echo hello > ~/hello.txt\r');
  await c.waitFor('step 1 done', () => lastProgress(c)?.steps[0] === 'done', 10_000);
  assert.equal(lastProgress(c)!.current, 1);

  // A deliberate mistake: copy instead of move.
  c.type('mkdir -p ~/notes && cp ~/hello.txt ~/notes/\r');
  await c.waitFor('feedback on step 2', () => {
    const p = lastProgress(c);
    return p?.feedback?.step === 1 && !p.feedback.passed && !p.checking;
  }, 10_000);
  assert.match(lastProgress(c)!.feedback!.message, /hello\.txt is still in \/root: move it/);

  // The Check button answers with the progress after the check.
  const checked = await (await api(s, '/check', 'POST')).json() as LabProgress;
  assert.equal(checked.current, 1);
  assert.equal(checked.feedback?.passed, false);
  c.close();

  // Reconnect: progress is kept.
  const again = await ProtocolClient.open(server.url, s.token);
  await again.waitFor('lab message', () => lastProgress(again) !== undefined);
  assert.deepEqual(lastProgress(again)!.steps, ['done', 'current', 'pending']);
  again.type('rm ~/hello.txt\r');
  await again.waitFor('step 2 done', () => lastProgress(again)?.steps[1] === 'done', 10_000);
  again.close();
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
  c.type('echo hello > ~/hello.txt\r');
  await c.waitFor('step 1 done', () => lastProgress(c)?.steps[0] === 'done', 10_000);
  c.type('mkdir ~/notes; mv ~/hello.txt ~/notes/; sleep 1000 &\r');
  // One command completes steps 2 and 3: after a pass the next step is checked at once.
  await c.waitFor('finished', () => lastProgress(c)?.finished === true, 15_000).catch((err) => { throw new Error(`${err.message}\nprogress: ${JSON.stringify(lastProgress(c))}`); });
  assert.deepEqual(lastProgress(c)!.steps, ['done', 'done', 'done']);
  c.close();
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
