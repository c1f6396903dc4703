// Helpers for recording tests and probes: a session with its learner cookie, the Record switch over
// HTTP, a shell to flood, the server's memory sampled while it runs, and a busy libuv thread pool
// (a slow disk, as the file stream sees it: its writes wait in the pool's queue).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RecordingInfo } from '../../protocol/api.js';
import type { LabServer } from '../../server/lab-server.js';
import { ProtocolClient } from './protocol-client.js';

export interface LabSession { id: string; token: string; learner: string }

/** POST /api/sessions as a browser: a new learner cookie unless `learner` is given. */
export async function startSession(server: LabServer, lab = 'hello', learner?: string): Promise<LabSession> {
  const res = await fetch(`${server.url}/api/sessions`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...(learner ? { cookie: learner } : {}) }, body: JSON.stringify({ lab }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  const set = res.headers.getSetCookie().map((c) => c.split(';')[0]!);
  const body = await res.json() as { id: string; token: string };
  return { ...body, learner: learner ?? set.find((c) => c.startsWith('tl_learner='))! };
}

export async function endSession(server: LabServer, s: LabSession): Promise<void> {
  await fetch(`${server.url}/api/sessions/${s.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${s.token}` } });
}

/** POST .../terminals/main/recording */
export function setRecording(server: LabServer, s: LabSession, on: boolean, input = false): Promise<Response> {
  return fetch(`${server.url}/api/sessions/${s.id}/terminals/main/recording`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${s.token}`, cookie: s.learner },
    body: JSON.stringify({ on, input }),
  });
}

/** Starts recording and returns the recording (201 expected). */
export async function startRecording(server: LabServer, s: LabSession): Promise<RecordingInfo> {
  const res = await setRecording(server, s, true);
  assert.equal(res.status, 201, await res.clone().text());
  return await res.json() as RecordingInfo;
}

/** A shell at its prompt that keeps only the newest output (a flood would otherwise fill the test's memory). */
export async function openShell(server: LabServer, s: LabSession): Promise<ProtocolClient> {
  const client = await ProtocolClient.open(server.url, s.token, { cols: 120, rows: 30 });
  await client.waitForText('# ');
  client.keepBytes = 16 * 1024;
  return client;
}

/** Types a command printing `mib` MiB of "a" with no newline, then a unique end mark. */
export function flood(client: ProtocolClient, mib: number): string {
  const done = `flood-${crypto.randomBytes(3).toString('hex')}`;
  client.type(`head -c ${mib}M /dev/zero | tr '\\0' a; echo; echo ${done.slice(0, 6)}${done.slice(6)}\r`);
  return done;
}

/** Polls until `cond` holds or `ms` pass; returns whether it held. */
export async function waitUntil(cond: () => boolean | Promise<boolean>, ms: number, every = 20): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, every));
  }
}

/** Samples this process's RSS (the server runs in it) every 50 ms; `stop()` gives the peak growth in bytes. */
export function sampleRss(): { stop(): number } {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 50);
  return { stop() { clearInterval(timer); peak = Math.max(peak, process.memoryUsage().rss); return peak - base; } };
}

/**
 * Makes file writes stall, as on a slow disk, without burning CPU: every libuv pool thread is held
 * in an open() of a FIFO for `ms`, then let go for a moment, over and over until the returned
 * function is called. File writes queue behind those opens.
 */
export function busyThreadPool(ms = 400): () => void {
  const threads = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-slow-'));
  const fifos = Array.from({ length: threads }, (_, i) => path.join(dir, `f${i}`));
  for (const f of fifos) execFileSync('mkfifo', [f]);
  let on = true;
  const round = (): void => {
    if (!on) return;
    for (const f of fifos) fs.open(f, 'r', (err, fd) => { if (!err) fs.close(fd, () => {}); });
    setTimeout(() => {
      for (const f of fifos) fs.closeSync(fs.openSync(f, 'w')); // the blocked opens return
      setTimeout(round, 20);
    }, ms);
  };
  round();
  return () => {
    on = false;
    setTimeout(() => fs.rmSync(dir, { recursive: true, force: true }), ms + 100);
  };
}

export const MiB = 2 ** 20;
export const mib = (n: number): string => `${(n / MiB).toFixed(1)} MiB`;
