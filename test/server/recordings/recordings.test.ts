// Recording a session terminal through the real server and box: one continuous asciicast across a
// reconnect, markers at lab steps, input only on request, owner-only access, share links, the
// real asciinema program reading the result, and asciicast v3 when the operator asks for it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parseAsciicast, type Asciicast } from '../../../protocol/asciicast.js';
import type { RecordingInfo } from '../../../protocol/api.js';
import type { LabServer } from '../../../server/lab-server.js';
import { asciinemaCat } from '../../helpers/asciinema.js';
import { startTestServer, stopAndListLeftovers } from '../../helpers/lab-server.js';
import { ProtocolClient } from '../../helpers/protocol-client.js';
import { endSession, setRecording, startSession } from '../../helpers/recordings.js';

let server: LabServer;
before(async () => { server = await startTestServer(); });
after(async () => { await server?.stop(); });

interface Started { id: string; token: string; learner: string }

async function start(lab: string, learner?: string): Promise<Started> {
  const res = await fetch(`${server.url}/api/sessions`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...(learner ? { cookie: learner } : {}) }, body: JSON.stringify({ lab }),
  });
  assert.equal(res.status, 201);
  const set = res.headers.getSetCookie().map((c) => c.split(';')[0]!);
  const body = await res.json() as { id: string; token: string };
  return { ...body, learner: learner ?? set.find((c) => c.startsWith('tl_learner='))! };
}

function recording(s: Started, on: boolean, input = false): Promise<Response> {
  return fetch(`${server.url}/api/sessions/${s.id}/terminals/main/recording`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${s.token}`, cookie: s.learner },
    body: JSON.stringify({ on, input }),
  });
}

async function cast(id: string, learner: string): Promise<{ text: string; cast: Asciicast }> {
  const res = await fetch(`${server.url}/api/recordings/${id}/cast`, { headers: { cookie: learner } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-disposition') ?? '', /attachment; filename="?hello-main-\d{4}-\d\d-\d\d\.cast"?/);
  const text = await res.text();
  return { text, cast: parseAsciicast(text) };
}

const output = (c: Asciicast) => c.events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
const count = (text: string, needle: string) => text.split(needle).length - 1;

test('one continuous recording across a reconnect, with resizes and step markers, read by asciinema', async () => {
  const s = await start('hello');
  const first = await ProtocolClient.open(server.url, s.token, { cols: 80, rows: 24 });
  await first.waitForText('# ');
  const started = await recording(s, true);
  assert.equal(started.status, 201);
  const info = await started.json() as RecordingInfo;
  assert.equal(info.recording, true);
  first.type('echo before-$((6*7))\r');
  await first.waitForText('before-42\r\n');
  first.close(); // the page reloads: a new socket, no resume
  const second = await ProtocolClient.open(server.url, s.token, { cols: 100, rows: 30 });
  second.type('echo hello > ~/hello.txt; echo after-$((7*7))\r');
  await second.waitForText('after-49\r\n');
  await new Promise((r) => setTimeout(r, 600)); // the step check passes and moves on
  assert.equal((await recording(s, false)).status, 204);
  second.close();

  const { text, cast: c } = await cast(info.id, s.learner);
  assert.equal(c.header.version, 2);
  assert.deepEqual(Object.keys(c.header.env ?? {}).sort(), ['SHELL', 'TERM']);
  assert.ok(c.header.timestamp && c.header.title?.includes('Hello, terminal'));
  const out = output(c);
  assert.equal(count(out, 'before-42\r\n'), 1, 'pre-reload output exactly once');
  assert.equal(count(out, 'after-49\r\n'), 1);
  assert.ok(c.events.some((e) => e[1] === 'r' && e[2] === '100x30'), 'the resize is recorded');
  const marks = c.events.filter((e) => e[1] === 'm').map((e) => e[2]);
  assert.deepEqual(marks, ['1. Make a file', '2. Move it into a folder']);
  assert.equal(c.events.filter((e) => e[1] === 'i').length, 0, 'no input unless asked');

  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tl-cast-')), 'rec.cast');
  fs.writeFileSync(file, text);
  const played = await asciinemaCat(file);
  assert.equal(played.exitCode, 0, played.output);
  assert.equal(count(played.output, 'before-42\r\n'), 1);
  assert.equal(count(played.output, 'after-49\r\n'), 1);
});

test('input is recorded only when asked', async () => {
  const s = await start('hello');
  const c = await ProtocolClient.open(server.url, s.token);
  await c.waitForText('# ');
  const info = await (await recording(s, true, true)).json() as RecordingInfo;
  assert.equal(info.input, true);
  c.type('echo typed-$((1+1))\r');
  await c.waitForText('typed-2');
  await recording(s, false);
  const { cast: rec } = await cast(info.id, s.learner);
  assert.ok(rec.events.filter((e) => e[1] === 'i').map((e) => e[2]).join('').includes('echo typed-$((1+1))'));
  c.close();
});

test('recordings are listed per browser and lab, private to it, shared only by link, and deletable', async () => {
  const mine = await start('hello');
  const info = await (await recording(mine, true)).json() as RecordingInfo;
  await recording(mine, false);
  const other = await start('hello');
  assert.notEqual(other.learner, mine.learner);

  const list = async (learner: string, q = '') => (await (await fetch(`${server.url}/api/recordings${q}`, { headers: { cookie: learner } })).json() as { recordings: RecordingInfo[] }).recordings;
  assert.ok((await list(mine.learner)).some((r) => r.id === info.id));
  assert.ok((await list(mine.learner, '?lab=hello')).some((r) => r.id === info.id));
  assert.ok(!(await list(mine.learner, '?lab=volumes')).some((r) => r.id === info.id));
  assert.ok(!(await list(other.learner)).some((r) => r.id === info.id), 'another browser does not see it');
  assert.equal((await fetch(`${server.url}/api/recordings/${info.id}/cast`, { headers: { cookie: other.learner } })).status, 404);

  const shared = await fetch(`${server.url}/api/shared/${info.share}/cast`);
  assert.equal(shared.status, 200, 'the share link needs no cookie');
  parseAsciicast(await shared.text());
  assert.equal((await fetch(`${server.url}/watch/${info.share}`)).status, 200);
  const embed = await fetch(`${server.url}/embed/${info.share}`);
  assert.match(embed.headers.get('content-security-policy') ?? '', /frame-ancestors \*/);
  assert.equal(embed.headers.get('x-frame-options'), null);
  assert.equal((await fetch(`${server.url}/`)).headers.get('x-frame-options'), 'DENY');

  assert.equal((await fetch(`${server.url}/api/recordings/${info.id}`, { method: 'DELETE', headers: { cookie: other.learner } })).status, 404);
  assert.equal((await fetch(`${server.url}/api/recordings/${info.id}`, { method: 'DELETE', headers: { cookie: mine.learner } })).status, 204);
  assert.equal((await fetch(`${server.url}/api/shared/${info.share}/cast`)).status, 404);
  assert.equal(fs.existsSync(server.recordings.store.file(info.id)), false);
});

test('ending the session closes a running recording into a whole file', async () => {
  const s = await start('hello');
  const c = await ProtocolClient.open(server.url, s.token);
  await c.waitForText('# ');
  const info = await (await recording(s, true)).json() as RecordingInfo;
  c.type('echo last-$((3*3))\r');
  await c.waitForText('last-9');
  assert.equal((await fetch(`${server.url}/api/sessions/${s.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${s.token}` } })).status, 204);
  const after = (await server.recordings.store.get(info.id))!;
  assert.equal(after.recording, false);
  assert.ok(after.durationS > 0 && after.bytes > 0);
  const { cast: rec } = await cast(info.id, s.learner);
  assert.equal(count(output(rec), 'last-9\r\n'), 1);
});

test('with TERMLAB_RECORDING_FORMAT=v3 the server writes asciicast v3, read back like its v2 recordings', async () => {
  const v3server = await startTestServer({ recordingFormat: 'v3' });
  /** The same session on either server: input recorded, a reconnect at another size, a step passed. */
  const record = async (srv: LabServer, tag: string) => {
    const s = await startSession(srv, 'hello');
    const first = await ProtocolClient.open(srv.url, s.token, { cols: 80, rows: 24 });
    await first.waitForText('# ');
    const res = await setRecording(srv, s, true, true);
    assert.equal(res.status, 201);
    const info = await res.json() as RecordingInfo;
    first.type(`echo ${tag}-$((6*7))\r`);
    await first.waitForText(`${tag}-42\r\n`);
    first.close();
    const second = await ProtocolClient.open(srv.url, s.token, { cols: 100, rows: 30 });
    second.type(`echo hello > ~/hello.txt; echo ${tag}-$((7*7))\r`);
    await second.waitForText(`${tag}-49\r\n`);
    await new Promise((r) => setTimeout(r, 600)); // the step check passes and moves on
    assert.equal((await setRecording(srv, s, false)).status, 204);
    second.close();
    const got = await fetch(`${srv.url}/api/recordings/${info.id}/cast`, { headers: { cookie: s.learner } });
    assert.equal(got.status, 200);
    const text = await got.text();
    const done = await (await fetch(`${srv.url}/api/recordings/${info.id}`, { headers: { cookie: s.learner } })).json() as RecordingInfo;
    // The share link serves the same file, for the watch and embed pages.
    assert.equal(await (await fetch(`${srv.url}/api/shared/${info.share}/cast`)).text(), text);
    await endSession(srv, s);
    return { text, cast: parseAsciicast(text), info: done };
  };
  try {
    const v2 = await record(server, 'two');
    const v3 = await record(v3server, 'three');
    assert.equal(v2.cast.header.version, 2);
    assert.equal(v3.cast.header.version, 3);
    const header = JSON.parse(v3.text.split('\n')[0]!) as Record<string, unknown>;
    assert.deepEqual(header.term, { cols: 80, rows: 24, type: 'xterm-256color' });
    assert.equal(header.width, undefined, 'v3 keeps the size in term');
    assert.ok(typeof header.timestamp === 'number' && String(header.title).includes('Hello, terminal'));
    assert.equal(v3.cast.header.width, 80);
    assert.equal(v3.cast.header.height, 24);

    for (const [r, tag] of [[v2, 'two'], [v3, 'three']] as const) {
      const c = r.cast;
      assert.equal(count(output(c), `${tag}-42\r\n`), 1);
      assert.equal(count(output(c), `${tag}-49\r\n`), 1);
      assert.ok(c.events.some((e) => e[1] === 'r' && e[2] === '100x30'), 'the resize is recorded');
      assert.ok(c.events.filter((e) => e[1] === 'i').map((e) => e[2]).join('').includes(`echo ${tag}-$((6*7))`), 'the input is recorded');
      assert.deepEqual(c.events.filter((e) => e[1] === 'm').map((e) => e[2]), ['1. Make a file', '2. Move it into a folder']);
      const times = c.events.map((e) => e[0]);
      assert.ok(times.every((t, i) => i === 0 || t >= times[i - 1]!), 'times never go back');
      // The recording's duration (what the list shows) is its last event's time, in either version.
      assert.ok(Math.abs(times.at(-1)! - r.info.durationS) < 1e-5, `${tag}: last event ${times.at(-1)} s, duration ${r.info.durationS} s`);
      assert.ok(r.info.durationS > 0 && r.info.durationS < 60, `${tag}: duration ${r.info.durationS} s`);
    }
    // In the v3 file itself, times are intervals: they add up to the times read.
    const raw = v3.text.trimEnd().split('\n').slice(1).filter((l) => !l.startsWith('#')).map((l) => JSON.parse(l) as [number, string, string]);
    const sum = raw.reduce((t, e) => t + e[0], 0);
    assert.ok(Math.abs(sum - v3.info.durationS) < 1e-4, `intervals add up to ${sum} s, duration ${v3.info.durationS} s`);
    assert.ok(raw.some((e, i) => i > 0 && e[0] < v3.cast.events[i - 1]![0]), 'at least one interval is less than the time before it (they are not times)');
  } finally {
    assert.deepEqual(await stopAndListLeftovers(v3server), []);
  }
});
