// What one learner can do with recordings is bounded: a flood stops at the size cap as a whole
// file the real asciinema reads, the disk lagging holds the shell back instead of growing the
// server's memory, a file is served only up to what was written, the count cap refuses with a
// message, old recordings are swept, and files and rows are made to agree at start.
//   node --import tsx --test test/server/recordings/limits.test.ts
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { ApiError, RecordingInfo, SessionInfo } from '../../../protocol/api.js';
import { parseAsciicast } from '../../../protocol/asciicast.js';
import { loadConfig } from '../../../server/config.js';
import type { LabServer } from '../../../server/lab-server.js';
import { RecordingService } from '../../../server/recordings/recording-service.js';
import { RecordingStore } from '../../../server/recordings/recording-store.js';
import { SqliteDatabase } from '../../../server/store/sqlite.js';
import { asciinemaCat } from '../../helpers/asciinema.js';
import { startTestServer, stopAndListLeftovers } from '../../helpers/lab-server.js';
import {
  MiB, busyThreadPool, endSession, flood, mib, openShell, sampleRss, setRecording, startRecording, startSession, waitUntil,
} from '../../helpers/recordings.js';

const DEFAULTS = loadConfig({}).recordings;
const CAP = 8 * MiB;
const PER_LEARNER = 3;
let server: LabServer;

before(async () => {
  server = await startTestServer({
    recordings: { ...DEFAULTS, maxBytes: CAP, maxPerLearner: PER_LEARNER }, sessionStartsPerMinute: 600, sessionStartBurst: 100,
  });
});
after(async () => { assert.deepEqual(await stopAndListLeftovers(server), []); });

test('a recorded flood stops at the size cap as a valid file, and the page learns it stopped', async (t) => {
  const s = await startSession(server);
  const client = await openShell(server, s);
  const info = await startRecording(server, s);
  const recorder = server.recordings.recorder(info.id)!;
  const rss = sampleRss();
  const t0 = Date.now();
  flood(client, 200);
  // Read while it is written: only whole events, up to what reached the file.
  // (Only each body's length and last line are kept: whole bodies would grow this process's memory, measured here.)
  const served: Array<{ bytes: number; last: string }> = [];
  const reading = (async () => {
    while (server.recordings.recorder(info.id)) {
      const res = await fetch(`${server.url}/api/recordings/${info.id}/cast`, { headers: { cookie: s.learner } });
      let bytes = 0;
      let tail = Buffer.alloc(0);
      const reader = res.body!.getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        bytes += r.value.length;
        tail = Buffer.concat([tail, r.value]).subarray(-32 * 1024);
      }
      assert.equal(bytes, Number(res.headers.get('content-length')));
      served.push({ bytes, last: tail.toString('latin1') });
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  assert.ok(await waitUntil(() => !server.recordings.recorder(info.id), 120_000), 'the recording stops by itself');
  const growth = rss.stop();
  await reading;
  t.diagnostic(`the cap was reached in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  client.type('\x03');

  const file = server.recordings.store.file(info.id);
  const size = fs.statSync(file).size;
  t.diagnostic(`flood of 200 MiB: file stopped at ${mib(size)} (cap ${mib(CAP)}, largest event ${recorder.largestLine} bytes), server RSS +${mib(growth)}`);
  assert.ok(size <= CAP + recorder.largestLine, `${size} bytes is within the cap plus one event`);
  assert.ok(size > CAP - 2 * recorder.largestLine - 1024, `${size} bytes: it did reach the cap`);
  // Loose: this test's own client decodes the flood in the same process; the real bound is the file cap.
  assert.ok(growth < 160 * MiB, `server RSS grew ${mib(growth)}`);
  t.diagnostic(`read ${served.length} times while it was written: ${served.map((b) => mib(b.bytes)).join(', ')}`);
  assert.ok(served.length > 0);
  for (const { last } of served) {
    assert.ok(last.endsWith('\n'), 'a file served while written ends with a whole event');
    const line = last.slice(0, -1).split('\n').at(-1)!;
    assert.ok(line.startsWith('{') || Array.isArray(JSON.parse(line)), line.slice(0, 80));
  }

  const row = (await server.recordings.store.get(info.id))!;
  assert.equal(row.recording, false);
  assert.equal(row.stopped, 'reached its 8 MiB limit');
  assert.equal(row.bytes, size);
  const text = fs.readFileSync(file, 'utf8');
  const cast = parseAsciicast(text);
  assert.deepEqual(cast.events.at(-1)?.slice(1), ['m', 'recording stopped: reached its 8 MiB limit']);
  const t1 = Date.now();
  const played = await asciinemaCat(file, 120_000);
  t.diagnostic(`asciinema cat took ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  assert.equal(played.exitCode, 0, played.output.slice(-500));

  // What the page asks (GET /api/sessions/:id, then the recording): no longer running, and why.
  const session = await (await fetch(`${server.url}/api/sessions/${s.id}`, { headers: { authorization: `Bearer ${s.token}` } })).json() as SessionInfo;
  assert.deepEqual(session.recordings, {});
  const mine = await (await fetch(`${server.url}/api/recordings/${info.id}`, { headers: { cookie: s.learner } })).json() as RecordingInfo;
  assert.equal(mine.stopped, 'reached its 8 MiB limit');
  const whole = await fetch(`${server.url}/api/recordings/${info.id}/cast`, { headers: { cookie: s.learner } });
  assert.equal(Number(whole.headers.get('content-length')), size);
  assert.equal((await whole.text()).length, text.length);
  client.close();
  await endSession(server, s);
});

test('while the disk lags the shell is not read: the file stream stays within its buffer plus one event', async (t) => {
  const s = await startSession(server);
  const client = await openShell(server, s);
  const info = await startRecording(server, s);
  const recorder = server.recordings.recorder(info.id)!;
  const stream = server.sessions.byId(s.id)!.terminal('main', { cols: 120, rows: 30 });
  const rss = sampleRss();
  const release = busyThreadPool(400);
  let pausedSeen = false;
  const watch = setInterval(() => { pausedSeen ||= stream.isPaused; }, 10);
  try {
    flood(client, 1024);
    await new Promise((r) => setTimeout(r, 4000));
  } finally {
    release();
    clearInterval(watch);
  }
  const growth = rss.stop();
  const { peakPending, largestLine, bytes } = recorder;
  client.type('\x03');
  await setRecording(server, s, false);
  t.diagnostic(`4 s of flood with file writes held up: ${mib(bytes)} recorded, peak buffered ${mib(peakPending)} (buffer ${mib(DEFAULTS.bufferBytes)}, largest event ${largestLine} bytes), server RSS +${mib(growth)}`);
  assert.ok(bytes > 0);
  assert.ok(pausedSeen, 'the shell was held back');
  assert.ok(peakPending <= DEFAULTS.bufferBytes + largestLine, `peak ${peakPending} bytes`);
  // Loose: this test's own client decodes the flood in the same process; the real bound is the file cap.
  assert.ok(growth < 160 * MiB, `server RSS grew ${mib(growth)}`);
  client.close();
  await endSession(server, s);
});

test('the count cap refuses one more recording with a clear message', async () => {
  const s = await startSession(server);
  const ids: string[] = [];
  for (let i = 0; i < PER_LEARNER; i++) {
    ids.push((await startRecording(server, s)).id);
    assert.equal((await setRecording(server, s, false)).status, 204);
  }
  const refused = await setRecording(server, s, true);
  assert.equal(refused.status, 409);
  const body = await refused.json() as ApiError;
  assert.equal(body.code, 'too-many-recordings');
  assert.match(body.error, /you have 3 recordings, the most kept per learner is 3: delete old ones/);
  assert.equal((await fetch(`${server.url}/api/recordings/${ids[0]}`, { method: 'DELETE', headers: { cookie: s.learner } })).status, 204);
  await startRecording(server, s);
  await setRecording(server, s, false);
  await endSession(server, s);
});

test('a recording older than the retention period is deleted by the sweep', async () => {
  const s = await startSession(server);
  const info = await startRecording(server, s);
  await setRecording(server, s, false);
  const fresh = await startRecording(server, s);
  await setRecording(server, s, false);
  await server.recordings.store.setCreated(info.id, Date.now() - 31 * 86_400_000);
  assert.deepEqual(await server.recordings.sweep(), [info.id]);
  assert.equal(await server.recordings.store.get(info.id), undefined);
  assert.equal(fs.existsSync(server.recordings.store.file(info.id)), false);
  assert.ok(await server.recordings.store.get(fresh.id), 'a recent one is kept');
  await endSession(server, s);
});

test('at start, expired recordings are swept and files and rows are made to agree', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-rec-start-'));
  try {
    let db = new SqliteDatabase(path.join(dir, 'recordings.db'));
    let store = await RecordingStore.open(db, dir);
    const base = { owner: 'o', lab: 'hello', session: 's', terminal: 'main', title: 't', input: false };
    const header = `${JSON.stringify({ version: 2, width: 80, height: 24 })}\n`;
    const kept = await store.create(base);
    fs.writeFileSync(kept.file, `${header}[0.1, "o", "hi"]\n`);
    await store.finish(kept.info.id, 0.1, fs.statSync(kept.file).size);
    const old = await store.create(base);
    fs.writeFileSync(old.file, header);
    await store.finish(old.info.id, 0, header.length);
    await store.setCreated(old.info.id, Date.now() - 31 * 86_400_000);
    const noFile = await store.create(base);
    await store.finish(noFile.info.id, 0, 10);
    const crashed = await store.create(base); // the server died while writing it: half an event at the end
    fs.writeFileSync(crashed.file, `${header}[0.2, "o", "whole"]\n[0.3, "o", "ha`);
    const orphan = path.join(store.dir, 'no-row.cast');
    fs.writeFileSync(orphan, header);
    await db.close();

    db = new SqliteDatabase(path.join(dir, 'recordings.db'));
    store = await RecordingStore.open(db, dir);
    const service = new RecordingService(store, DEFAULTS);
    await service.firstSweep;
    service.close();
    assert.ok(await store.get(kept.info.id));
    assert.equal(await store.get(old.info.id), undefined, 'expired: swept at start');
    assert.equal(fs.existsSync(old.file), false);
    assert.equal(await store.get(noFile.info.id), undefined, 'a row without its file is dropped');
    assert.equal(fs.existsSync(orphan), false, 'a file without a row is deleted');
    const recovered = (await store.get(crashed.info.id))!;
    assert.equal(recovered.recording, false);
    const text = fs.readFileSync(crashed.file, 'utf8');
    assert.equal(text, `${header}[0.2, "o", "whole"]\n`);
    assert.equal(recovered.bytes, Buffer.byteLength(text));
    parseAsciicast(text);
    await db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
