// Recordings across two real lab servers sharing one PostgreSQL database and no folder (each has its
// own state folder): a recording made on replica A is played through replica B's routes while it
// runs (up to its last stored batch, whole events) and once it is finished, and deleted through B;
// a flood stops at the size cap in the database, with the shell held back while the database lags.
//   node --import tsx --test test/server/recordings/replicas.test.ts
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import type { RecordingInfo } from '../../../protocol/api.js';
import { parseAsciicast } from '../../../protocol/asciicast.js';
import type { LabServer } from '../../../server/lab-server.js';
import { loadConfig } from '../../../server/config.js';
import { stopAndListLeftovers } from '../../helpers/lab-server.js';
import { startPostgres, type PostgresServer } from '../../helpers/postgres.js';
import { ProtocolClient } from '../../helpers/protocol-client.js';
import { sharedInstance, type SharedInstance } from '../../helpers/shared-instance.js';
import {
  MiB, endSession, flood, mib, openShell, setRecording, startRecording, startSession, waitUntil,
} from '../../helpers/recordings.js';

const DEFAULTS = loadConfig({}).recordings;
const CAP = 4 * MiB;

let pg: PostgresServer;
let shared: SharedInstance | undefined;
let a: LabServer;
let b: LabServer;

before(async () => {
  pg = startPostgres();
  // No folder between them: each replica has its own state folder, as separate pods have.
  shared = await sharedInstance(pg);
  a = await shared.start('gw-a', { recordings: { ...DEFAULTS, maxBytes: CAP } });
  b = await shared.start('gw-b', { recordings: { ...DEFAULTS, maxBytes: CAP } });
});

after(async () => {
  assert.deepEqual(await stopAndListLeftovers(a), []);
  await b?.stop();
  pg?.stop();
  shared?.remove();
});

/** GET a recording's cast through `server` as its learner. */
async function castOn(server: LabServer, id: string, learner: string): Promise<{ status: number; text: string; length: number }> {
  const res = await fetch(`${server.url}/api/recordings/${id}/cast`, { headers: { cookie: learner } });
  const text = await res.text();
  return { status: res.status, text, length: Number(res.headers.get('content-length')) };
}

function output(text: string): string {
  return parseAsciicast(text).events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
}

test('a recording made on replica A plays through replica B while it runs and once finished, and B deletes it', async () => {
  const s = await startSession(a, 'hello');
  const client = await ProtocolClient.open(a.url, s.token);
  await client.waitForText('# ');
  const info = await startRecording(a, s);
  client.type('echo running-$((6*7))\r');
  await client.waitForText('running-42');

  // B has no recorder and no file: it serves what A stored in the database, whole events only.
  let running = await castOn(b, info.id, s.learner);
  assert.ok(await waitUntil(async () => {
    running = await castOn(b, info.id, s.learner);
    return output(running.text).includes('running-42');
  }, 5000), `replica B serves the running recording: ${running.text.slice(-200)}`);
  assert.equal(running.status, 200);
  assert.equal(Buffer.byteLength(running.text), running.length);
  assert.ok(running.text.endsWith('\n'));
  assert.equal(fs.existsSync(a.recordings.store.file(info.id)), false, 'no file on A\'s disk either');
  const listed = await (await fetch(`${b.url}/api/recordings/${info.id}`, { headers: { cookie: s.learner } })).json() as RecordingInfo;
  assert.equal(listed.recording, true);

  client.type('echo finished-$((7*7))\r');
  await client.waitForText('finished-49');
  assert.equal((await setRecording(a, s, false)).status, 204);
  const onA = await castOn(a, info.id, s.learner);
  const onB = await castOn(b, info.id, s.learner);
  assert.equal(onB.status, 200);
  assert.equal(onB.text, onA.text, 'both replicas serve the same finished recording');
  assert.ok(output(onB.text).includes('finished-49'));
  const done = await (await fetch(`${b.url}/api/recordings/${info.id}`, { headers: { cookie: s.learner } })).json() as RecordingInfo;
  assert.equal(done.recording, false);
  assert.equal(done.bytes, Buffer.byteLength(onB.text));
  // The share link too, for the watch and embed pages.
  assert.equal(await (await fetch(`${b.url}/api/shared/${info.share}/cast`)).text(), onA.text);

  assert.equal((await fetch(`${b.url}/api/recordings/${info.id}`, { method: 'DELETE', headers: { cookie: s.learner } })).status, 204);
  assert.equal((await castOn(a, info.id, s.learner)).status, 404);
  assert.equal((await a.recordings.store.read(info.id))?.size, 0, 'its bytes are gone from the database');
  client.close();
  await endSession(a, s);
});

test('a recorded flood stops at the size cap in the database, and the shell waits for the database', async (t) => {
  const s = await startSession(a, 'hello');
  const client = await openShell(a, s);
  const info = await startRecording(a, s);
  const recorder = a.recordings.recorder(info.id)!;
  flood(client, 64);
  assert.ok(await waitUntil(() => !a.recordings.recorder(info.id), 120_000), 'the recording stops by itself');
  client.type('\x03');
  const onB = await castOn(b, info.id, s.learner);
  const size = Buffer.byteLength(onB.text);
  t.diagnostic(`flood of 64 MiB: ${mib(size)} stored (cap ${mib(CAP)}), peak held ${mib(recorder.peakPending)} (buffer ${mib(DEFAULTS.bufferBytes)}, largest event ${recorder.largestLine} bytes)`);
  assert.ok(size <= CAP, `${size} bytes stored, cap ${CAP}`);
  assert.ok(size > CAP - 2 * recorder.largestLine - 1024, `${size} bytes: it did reach the cap`);
  assert.ok(recorder.peakPending <= DEFAULTS.bufferBytes + recorder.largestLine, `peak ${recorder.peakPending} bytes`);
  const cast = parseAsciicast(onB.text);
  assert.deepEqual(cast.events.at(-1)?.slice(1), ['m', 'recording stopped: reached its 4 MiB limit']);
  const row = (await b.recordings.store.get(info.id))!;
  assert.equal(row.recording, false);
  assert.equal(row.bytes, size);
  client.close();
  await endSession(a, s);
});
