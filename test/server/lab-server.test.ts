// The server's promises about boxes over time, against the real engine: nothing is left behind
// after ending, idling, expiring, stopping or crashing.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import Docker from 'dockerode';
import { FLOW_HIGH_WATER } from '../../protocol/messages.js';
import { LABEL } from '../../server/sandbox/engine.js';
import { createSession, startTestServer, testInstance, until } from '../helpers/lab-server.js';
import { ProtocolClient } from '../helpers/protocol-client.js';

const root = path.resolve(import.meta.dirname, '../..');
const docker = new Docker({ socketPath: process.env.TERMLAB_DOCKER_SOCKET ?? '/var/run/docker.sock' });

async function containersOf(instance: string): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${instance}`] } });
  return list.map((c) => c.Id);
}
async function networksOf(instance: string): Promise<string[]> {
  const list = await docker.listNetworks({ filters: { label: [`${LABEL.instance}=${instance}`] } });
  return list.map((n) => n.Id);
}

test('ending a session over HTTP removes its box and network', async () => {
  const server = await startTestServer();
  try {
    const s = await createSession(server, 'hello');
    const instance = server.sessions.byId(s.id)!.box;
    assert.equal((await containersOf(server.config.instance)).length, 1);
    const res = await fetch(`${server.url}/api/sessions/${s.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${s.token}` } });
    assert.equal(res.status, 204);
    await assert.rejects(docker.getContainer(instance.id).inspect(), /no such container/i);
    assert.deepEqual(await networksOf(server.config.instance), []);
  } finally {
    await server.stop();
  }
});

test('a session without a client for the idle timeout is destroyed; an attached one lives', async () => {
  const server = await startTestServer({ idleTimeoutMs: 2000, sweepIntervalMs: 250 });
  try {
    const idle = await createSession(server, 'hello');
    // Read at once: on a loaded machine the idle session may be swept before the next line ends.
    const idleBox = server.sessions.byId(idle.id)!.box.id;
    const kept = await createSession(server, 'hello');
    const client = await ProtocolClient.open(server.url, kept.token);
    await until('the idle box to go', async () => (await containersOf(server.config.instance)).length === 1, 15_000);
    await assert.rejects(docker.getContainer(idleBox).inspect(), /no such container/i);
    assert.ok(server.sessions.byId(kept.id), 'the attached session is still alive');
    const res = await fetch(`${server.url}/api/sessions/${idle.id}`, { headers: { authorization: `Bearer ${idle.token}` } });
    assert.equal(res.status, 404);
    client.close();
  } finally {
    await server.stop();
  }
  assert.deepEqual(await containersOf(server.config.instance), [], 'stop removes the rest');
});

test('the maximum lifetime ends a session even with a client attached, and the client is told', async () => {
  const server = await startTestServer({ maxLifetimeMs: 3000, sweepIntervalMs: 250 });
  try {
    const s = await createSession(server, 'hello');
    const client = await ProtocolClient.open(server.url, s.token);
    await client.waitForClose(15_000);
    const exit = client.messages.find((m) => m.type === 'exit');
    assert.equal(exit?.type === 'exit' && exit.reason, 'max-lifetime');
    // The client hears first; the box goes right after.
    await until('the expired box to go', async () => (await containersOf(server.config.instance)).length === 0, 15_000);
  } finally {
    await server.stop();
  }
});

test('a yes flood to a client that stops reading does not run away; Ctrl-C works at once', async () => {
  const server = await startTestServer();
  try {
    const s = await createSession(server, 'hello');
    const client = await ProtocolClient.open(server.url, s.token);
    await client.waitForText('# ');
    client.autoAck = false;
    const start = client.offset;
    client.type('yes flood-line\r');
    await until('the server to pause the shell', () => server.sessions.byId(s.id)!.existingTerminals()[0]!.isPaused, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    const received = client.offset - start;
    assert.ok(received <= FLOW_HIGH_WATER + 256 * 1024, `received ${received} bytes without acknowledging`);
    client.autoAck = true;
    client.type('\x03');
    client.send({ type: 'ack', offset: client.offset });
    client.type('echo stopped-$((6*7))\r');
    await client.waitForText('stopped-42', 10_000);
    // What yes had printed but the page had not got was skipped up to the prompt, and said so.
    assert.match(client.text, /\[[\d.]+ (KiB|MiB) of output skipped after Ctrl-C\]/);
    client.close();
  } finally {
    await server.stop();
  }
});

test('a paste four times the input burst goes in whole: the socket is read at the budget\'s pace, nothing is dropped', async () => {
  const server = await startTestServer({ inputBufferKb: 64 });
  try {
    const s = await createSession(server, 'hello');
    const client = await ProtocolClient.open(server.url, s.token);
    await client.waitForText('# ');
    client.type('cat > /root/paste\r');
    await client.waitForText('cat > /root/paste\r\n');
    const line = `${'x'.repeat(99)}\n`;
    const lines = 2560; // 250 KiB
    for (let i = 0; i < lines; i += 40) client.type(line.repeat(Math.min(40, lines - i)));
    client.type('\x04');
    client.type('echo "size=$(wc -c < /root/paste)"\r');
    await client.waitForText(/size=\d+/, 60_000);
    assert.equal(/size=(\d+)/.exec(client.text)?.[1], String(line.length * lines));
    assert.deepEqual(client.errors().map((e) => e.code), []);
    client.close();
  } finally {
    await server.stop();
  }
});

test('a pre-started box serves the next session', async () => {
  const server = await startTestServer({ pool: { shell: 1, docker: 0, kubernetes: 0 } });
  try {
    await until('the pool to fill', () => server.sessions.pooled.shell === 1, 30_000);
    const s = await createSession(server, 'hello');
    assert.equal(server.sessions.pooled.shell ?? 0, 0);
    const client = await ProtocolClient.open(server.url, s.token);
    client.type('echo pooled-$((2+3))\r');
    await client.waitForText('pooled-5');
    client.close();
    await until('the pool to refill', () => server.sessions.pooled.shell === 1, 30_000);
  } finally {
    await server.stop();
  }
});

function startServerProcess(instance: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: root,
    env: { ...process.env, PORT: '0', TERMLAB_INSTANCE: instance, TERMLAB_POOL: 'shell=1,docker=0,kubernetes=0', TERMLAB_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /ready: open (http:\/\/\S+)/.exec(err);
      if (m) resolve({ child, url: m[1]! });
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
}

test('after the server is killed uncleanly, its next start removes what it left', async () => {
  const instance = testInstance();
  const first = await startServerProcess(instance);
  const s = await fetch(`${first.url}/api/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"lab":"hello"}' });
  assert.equal(s.status, 201);
  await until('the pool box too', async () => (await containersOf(instance)).length === 2, 30_000);
  const left = await containersOf(instance);
  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));
  assert.deepEqual((await containersOf(instance)).sort(), left.sort(), 'a killed server leaves its boxes');

  const second = await startServerProcess(instance);
  try {
    const now = await containersOf(instance);
    for (const id of left) assert.ok(!now.includes(id), `leftover ${id.slice(0, 12)} was removed`);
  } finally {
    second.child.kill('SIGTERM');
    await new Promise((r) => second.child.once('exit', r));
  }
  assert.deepEqual(await containersOf(instance), [], 'a clean stop removes everything');
  assert.deepEqual(await networksOf(instance), []);
});

