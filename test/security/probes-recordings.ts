// Probes of recordings, as a hostile learner would abuse them: flood a recorded terminal to fill
// the disk, record while the disk lags to grow the server's memory, keep recordings running for
// ever, make more of them or more bytes of them than a learner may keep, and count on them being
// kept for ever. Each probe measures against a fixed expectation (not the server's own
// configuration), so a server configured too loosely fails it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAsciicast } from '../../protocol/asciicast.js';
import type { ApiError } from '../../protocol/api.js';
import type { LabServer } from '../../server/lab-server.js';
import { asciinemaCat } from '../helpers/asciinema.js';
import {
  busyThreadPool, endSession, flood, openShell, sampleRss, setRecording, startRecording, startSession, waitUntil, type LabSession,
} from '../helpers/recordings.js';
import { mib, type ProbeResult } from './probe.js';

export type { ProbeResult } from './probe.js';

/** What the probes expect of a server; the battery passes the values it configured. */
export interface RecordingExpectations {
  /** The largest file one recording may become. */
  maxBytes: number;
  /** The longest a recording may run. */
  maxDurationMs: number;
  /** Recordings a learner may keep. */
  maxPerLearner: number;
  /** Bytes of recordings a learner may keep. */
  maxBytesPerLearner: number;
  /** Days a finished recording is kept. */
  retentionDays: number;
  /** Bytes a recording's file stream may buffer while the disk lags. */
  bufferBytes: number;
  /** Growth of the server's memory a flood may cause. */
  rssGrowth: number;
}

async function withSession<T>(server: LabServer, run: (s: LabSession) => Promise<T>, learner?: string): Promise<T> {
  const s = await startSession(server, 'hello', learner);
  try {
    return await run(s);
  } finally {
    await endSession(server, s);
  }
}

/** Stops a flood that is still printing (Ctrl-C), and the recording if it still runs. */
async function settle(server: LabServer, s: LabSession, client: { type(d: string): void; close(): void }): Promise<void> {
  client.type('\x03');
  await setRecording(server, s, false);
  client.close();
}

/**
 * A recorded flood of `floodMiB` MiB: held when the recording stops by itself no bigger than
 * `maxBytes`, ends with a marker saying why, is read by the real asciinema program, and the
 * server's memory grows less than `rssGrowth` meanwhile.
 */
export async function probeFloodSize(server: LabServer, expect: RecordingExpectations, floodMiB = 200): Promise<ProbeResult> {
  const name = 'a recorded flood fills the disk';
  return withSession(server, async (s) => {
    const client = await openShell(server, s);
    const info = await startRecording(server, s);
    const recorder = server.recordings.recorder(info.id)!;
    const rss = sampleRss();
    flood(client, floodMiB);
    // Until it stops by itself, or has clearly passed what is expected.
    const stoppedItself = await waitUntil(() => !server.recordings.recorder(info.id) || recorder.bytes > expect.maxBytes * 2, 120_000);
    const growth = rss.stop();
    const stopped = !server.recordings.recorder(info.id);
    await settle(server, s, client);
    const file = server.recordings.store.file(info.id);
    const size = fs.statSync(file).size;
    const text = fs.readFileSync(file, 'utf8');
    let last = '';
    let valid = true;
    try {
      const cast = parseAsciicast(text);
      const end = cast.events.at(-1);
      last = end?.[1] === 'm' ? end[2] : '';
    } catch { valid = false; }
    const copy = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tl-probe-')), 'flood.cast');
    fs.copyFileSync(file, copy);
    const played = await asciinemaCat(copy, 120_000);
    fs.rmSync(path.dirname(copy), { recursive: true, force: true });
    const held = stoppedItself && stopped && size <= expect.maxBytes + recorder.largestLine && valid && played.exitCode === 0
      && /^recording stopped: /.test(last) && growth < expect.rssGrowth;
    return {
      name, held,
      effect: `flood of ${floodMiB} MiB while recording: file ${stopped ? 'stopped' : 'still growing'} at ${mib(size)} (expected at most ${mib(expect.maxBytes)})`
        + `${last ? `, last marker "${last}"` : ', no closing marker'}, asciinema exit ${played.exitCode}, server RSS +${mib(growth)}`,
    };
  });
}

/**
 * The same flood while the disk lags (file writes wait behind a busy thread pool): held when the
 * bytes the recording's file stream buffers never exceed `bufferBytes` by more than one event
 * (the shell is not read meanwhile) and the server's memory grows less than `rssGrowth`.
 */
export async function probeSlowDisk(server: LabServer, expect: RecordingExpectations, seconds = 6): Promise<ProbeResult> {
  const name = 'a recorded flood while the disk lags grows server memory';
  return withSession(server, async (s) => {
    const client = await openShell(server, s);
    const info = await startRecording(server, s);
    const recorder = server.recordings.recorder(info.id)!;
    const rss = sampleRss();
    const release = busyThreadPool(400);
    try {
      flood(client, 1024);
      await new Promise((r) => setTimeout(r, seconds * 1000));
    } finally {
      release();
    }
    const growth = rss.stop();
    const peak = recorder.peakPending;
    const line = recorder.largestLine;
    const recorded = recorder.bytes;
    await settle(server, s, client);
    const held = recorded > 0 && peak <= expect.bufferBytes + line && growth < expect.rssGrowth;
    return {
      name, held,
      effect: `${seconds} s of flood with file writes held up: ${mib(recorded)} recorded, file stream buffered at most ${mib(peak)}`
        + ` (expected at most ${mib(expect.bufferBytes)} + one event of ${mib(line)}), server RSS +${mib(growth)}`,
    };
  });
}

/**
 * A recording left running: held when it stops by itself within `maxDurationMs` (plus 3 s), with a
 * closing marker.
 */
export async function probeDuration(server: LabServer, expect: RecordingExpectations): Promise<ProbeResult> {
  const name = 'a recording runs for ever';
  return withSession(server, async (s) => {
    const client = await openShell(server, s);
    const started = Date.now();
    const info = await startRecording(server, s);
    const stopped = await waitUntil(() => !server.recordings.recorder(info.id), expect.maxDurationMs + 3000, 50);
    const after = Date.now() - started;
    await settle(server, s, client);
    const row = await server.recordings.store.get(info.id);
    const held = stopped && Boolean(row?.stopped);
    return {
      name, held,
      effect: stopped ? `stopped by itself after ${(after / 1000).toFixed(1)} s: "${row?.stopped ?? 'no reason'}"` : `still running after ${(after / 1000).toFixed(1)} s (expected to stop by ${expect.maxDurationMs / 1000} s)`,
    };
  });
}

/**
 * One learner starts recording after recording: held when a start is refused with a 4xx that says
 * to delete old recordings, at the latest one past `maxPerLearner`.
 */
export async function probeCount(server: LabServer, expect: RecordingExpectations): Promise<ProbeResult> {
  const name = 'one learner keeps unlimited recordings';
  return withSession(server, async (s) => {
    let made = 0;
    for (let i = 0; i <= expect.maxPerLearner; i++) {
      const res = await setRecording(server, s, true);
      if (res.status !== 201) {
        const body = await res.json() as ApiError;
        const held = res.status >= 400 && res.status < 500 && /delete old/.test(body.error);
        return { name, held, effect: `${made} recordings made, the next refused: ${res.status} ${body.code}: "${body.error}"` };
      }
      made++;
      await setRecording(server, s, false);
    }
    return { name, held: false, effect: `${made} recordings made, none refused (expected a refusal after ${expect.maxPerLearner})` };
  });
}

/**
 * One learner records flood after flood: held when what they store never exceeds
 * `maxBytesPerLearner` and a further start is refused with a 4xx.
 */
export async function probeLearnerBytes(server: LabServer, expect: RecordingExpectations): Promise<ProbeResult> {
  const name = "one learner's recordings fill the disk";
  const first = await startSession(server);
  await endSession(server, first);
  const learner = first.learner;
  let refused = '';
  const rounds = Math.ceil(expect.maxBytesPerLearner / expect.maxBytes) + 4;
  for (let i = 0; i < rounds && !refused; i++) {
    await withSession(server, async (s) => {
      const client = await openShell(server, s);
      const res = await setRecording(server, s, true);
      if (res.status !== 201) {
        refused = `${res.status} ${(await res.json() as ApiError).error}`;
        client.close();
        return;
      }
      const info = await res.json() as { id: string };
      const recorder = server.recordings.recorder(info.id)!;
      flood(client, Math.ceil((expect.maxBytes * 2) / 2 ** 20));
      await waitUntil(() => !server.recordings.recorder(info.id) || recorder.bytes >= expect.maxBytes * 1.5, 60_000);
      await settle(server, s, client);
    }, learner);
  }
  const listed = await (await fetch(`${server.url}/api/recordings`, { headers: { cookie: learner } })).json() as { recordings: Array<{ bytes: number }> };
  const stored = listed.recordings.reduce((n, r) => n + r.bytes, 0);
  const held = Boolean(refused) && refused.startsWith('4') && stored <= expect.maxBytesPerLearner;
  return {
    name, held,
    effect: `stored ${mib(stored)} (expected at most ${mib(expect.maxBytesPerLearner)}); ${refused ? `then refused: ${refused}` : 'never refused'}`,
  };
}

/**
 * A finished recording older than the retention period: held when the sweep deletes its row and
 * its file.
 */
export async function probeRetention(server: LabServer, expect: RecordingExpectations): Promise<ProbeResult> {
  const name = 'recordings are kept for ever';
  return withSession(server, async (s) => {
    const info = await startRecording(server, s);
    await setRecording(server, s, false);
    const age = (expect.retentionDays + 1) * 24 * 60 * 60 * 1000;
    await server.recordings.store.setCreated(info.id, Date.now() - age);
    await server.recordings.sweep();
    const file = fs.existsSync(server.recordings.store.file(info.id));
    const row = Boolean(await server.recordings.store.get(info.id));
    return {
      name, held: !file && !row,
      effect: `a recording ${expect.retentionDays + 1} days old after a sweep: row ${row ? 'kept' : 'deleted'}, file ${file ? 'kept' : 'deleted'}`,
    };
  });
}
