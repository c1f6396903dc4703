// Hostile and malformed WebSocket input against a real server with real boxes: each bad frame gets
// a clear error on its own socket, and other sessions keep working.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { WS_PATH } from '../../../protocol/api.js';
import { CLOSE, MAX_CLIENT_FRAME_BYTES, PROTOCOL_VERSION } from '../../../protocol/messages.js';
import type { LabServer } from '../../../server/lab-server.js';
import { createSession, startTestServer } from '../../helpers/lab-server.js';
import { ProtocolClient } from '../../helpers/protocol-client.js';

let server: LabServer;
let a: { id: string; token: string };
let b: { id: string; token: string };

before(async () => {
  server = await startTestServer();
  [a, b] = await Promise.all([createSession(server, 'hello'), createSession(server, 'hello')]);
});
after(async () => { await server?.stop(); });

async function working(token: string, marker: string): Promise<void> {
  const c = await ProtocolClient.open(server.url, token);
  c.type(`echo ${marker}-$((20+22))\r`);
  await c.waitForText(`${marker}-42`);
  c.close();
}

test('a session answers: hello, input, output', async () => {
  await working(a.token, 'alive');
});

test('non-fatal errors are reported and the socket keeps working', async () => {
  const c = await ProtocolClient.open(server.url, a.token);
  c.sendRaw('{this is not json');
  c.send({ type: 'resize', cols: 100000, rows: 100000 });
  c.sendRaw(Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0xff]), true);
  c.send({ type: 'no-such-type' });
  c.send({ type: 'hello', v: PROTOCOL_VERSION, token: a.token, cols: 80, rows: 24 });
  c.send({ type: 'ack', offset: 1e12 });
  await c.waitFor('six errors', () => c.errors().length >= 6);
  assert.deepEqual(c.errors().map((e) => e.code), ['bad-json', 'bad-message', 'binary-not-accepted', 'bad-message', 'hello-twice', 'bad-ack']);
  assert.match(c.errors()[1]!.message, /cols/);
  assert.ok(c.errors().every((e) => !e.fatal && e.message.length > 10));
  c.type('echo still-$((6*7))\r');
  await c.waitForText('still-42');
  c.close();
});

test('input before hello is refused and closes the socket', async () => {
  const c = await ProtocolClient.connect(server.url);
  c.type('rm -rf /\r');
  await c.waitForClose();
  assert.equal(c.errors()[0]?.code, 'hello-first');
  assert.equal(c.closeCode, CLOSE.protocolError);
});

test("a wrong or another session's token gets bad-token and reaches nothing", async () => {
  const c = await ProtocolClient.connect(server.url);
  c.send({ type: 'hello', v: PROTOCOL_VERSION, token: 'x'.repeat(43), cols: 80, rows: 24 });
  await c.waitForClose();
  assert.equal(c.errors()[0]?.code, 'bad-token');
  assert.equal(c.closeCode, CLOSE.badToken);
  // Each token opens its own box only: a file made through b's token is not in a's box.
  const cb = await ProtocolClient.open(server.url, b.token);
  cb.type('touch /tmp/only-in-b; echo made-$((1+1))\r');
  await cb.waitForText('made-2');
  cb.close();
  const ca = await ProtocolClient.open(server.url, a.token);
  ca.type('ls /tmp/only-in-b 2>&1 | grep -c "No such" ; echo checked\r');
  await ca.waitForText(/\r1\r\nchecked/);
  ca.close();
});

test('an oversized frame is refused from its length and the server goes on', async () => {
  const c = await ProtocolClient.open(server.url, a.token);
  c.sendRaw(JSON.stringify({ type: 'input', data: 'y'.repeat(MAX_CLIENT_FRAME_BYTES + 10) }));
  await c.waitForClose();
  assert.equal(c.closeCode, 1009);
  await working(b.token, 'after-oversized');
});

test('a bad protocol version is named', async () => {
  const c = await ProtocolClient.connect(server.url);
  c.send({ type: 'hello', v: 99, token: a.token, cols: 80, rows: 24 });
  await c.waitForClose();
  assert.equal(c.errors()[0]?.code, 'bad-version');
  assert.match(c.errors()[0]!.message, /v1/);
});

test('a page from another origin cannot open the socket; wrong paths get 404', async () => {
  const refused = (url: string, headers: Record<string, string>) => new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => { ws.close(); reject(new Error('upgrade was accepted')); });
    ws.on('error', () => {});
  });
  const wsUrl = server.url.replace('http', 'ws');
  assert.equal(await refused(wsUrl + WS_PATH, { origin: 'https://evil.example' }), 403);
  assert.equal(await refused(wsUrl + '/elsewhere', {}), 404);
  const same = await ProtocolClient.connect(server.url, { origin: server.url });
  same.close();
});

test('a second window takes the terminal over; the first is told why', async () => {
  const first = await ProtocolClient.open(server.url, a.token);
  const second = await ProtocolClient.open(server.url, a.token);
  await first.waitForClose();
  assert.equal(first.closeCode, CLOSE.replaced);
  assert.equal(first.messages.find((m) => m.type === 'exit')?.type, 'exit');
  second.type('echo second-$((3*4))\r');
  await second.waitForText('second-12');
  second.close();
});

test('reconnecting with resumeFrom replays only what was missed', async () => {
  const c1 = await ProtocolClient.open(server.url, b.token);
  c1.type('echo before-$((7*6))\r');
  await c1.waitForText('before-42');
  const cut = c1.offset;
  c1.close();
  await new Promise((r) => setTimeout(r, 100));
  const c2 = await ProtocolClient.open(server.url, b.token, { resumeFrom: cut });
  c2.type('echo after-$((7*7))\r');
  await c2.waitForText('after-49');
  assert.equal(c2.snapshot, undefined);
  assert.doesNotMatch(c2.text, /before-42/);
  c2.close();
  const fresh = await ProtocolClient.open(server.url, b.token);
  await fresh.waitFor('snapshot', () => fresh.snapshot !== undefined);
  const screen = fresh.snapshot! + fresh.text;
  assert.equal(screen.split('before-42').length - 1, 1, 'the earlier output is on the screen exactly once');
  fresh.close();
});

test('HTTP API errors say what is wrong', async () => {
  const post = (body: string, type = 'application/json') => fetch(`${server.url}/api/sessions`, { method: 'POST', headers: { 'content-type': type }, body });
  let res = await post('{bad');
  assert.equal(res.status, 400);
  assert.match(((await res.json()) as { error: string }).error, /not valid JSON/);
  res = await post(JSON.stringify({ lab: 'no-such-lab' }));
  assert.equal(res.status, 404);
  assert.match(((await res.json()) as { error: string }).error, /no lab "no-such-lab"/);
  res = await post('lab=hello', 'application/x-www-form-urlencoded');
  assert.equal(res.status, 415);
  res = await fetch(`${server.url}/api/sessions/${a.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${b.token}` } });
  assert.equal(res.status, 404, "b's token cannot end a");
  res = await fetch(`${server.url}/api/sessions/${a.id}`, { headers: { authorization: `Bearer ${a.token}` } });
  assert.equal(res.status, 200);
  const info = (await res.json()) as { id: string };
  assert.equal(info.id, a.id);
});
