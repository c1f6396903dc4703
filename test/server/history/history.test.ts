// A self-paced learner's history on a real server with real boxes: passing steps feeds it, a box
// removed by the idle timeout leaves the attempt resumable, "Continue" replays the passed steps on a
// fresh box (the containers they made are really there), a step that cannot be replayed says so, a
// finished lab gets a proof that verifies (and a tampered or withdrawn one does not), erasing erases.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { LabProgress, SessionInfo } from '../../../protocol/api.js';
import type { CompletionResponse, ExtendResponse, HistoryResponse, LifetimeMessage } from '../../../protocol/history.js';
import type { LabServer } from '../../../server/lab-server.js';
import { startTestServer, until } from '../../helpers/lab-server.js';
import { ProtocolClient } from '../../helpers/protocol-client.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/history-labs');
const ROOT = path.resolve(import.meta.dirname, '../../..');

/** A labs folder with the real docker-run lab and the two fixtures. */
const labsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'termlab-history-'));
fs.cpSync(path.join(ROOT, 'labs', 'docker-run'), path.join(labsDir, 'docker-run'), { recursive: true });
for (const lab of ['resume-shell', 'unreplayable']) fs.cpSync(path.join(FIXTURES, lab), path.join(labsDir, lab), { recursive: true });

let server: LabServer;
before(async () => {
  server = await startTestServer({
    labsDir,
    // The box of a session with no client attached goes 1.5 s after its last activity.
    idleTimeoutMs: 1500, sweepIntervalMs: 250,
    history: { attemptsPerLab: 2, retentionMs: 86_400_000, maxAttempts: 10_000, writesPerMinute: 4, extensions: 1, extendMs: 10 * 60_000 },
  });
});
after(async () => {
  await server?.stop();
  fs.rmSync(labsDir, { recursive: true, force: true });
});

/** One browser: its learner cookie on every request. */
class Learner {
  readonly cookie = `tl_learner=${crypto.randomBytes(18).toString('base64url')}`;

  async call(method: string, route: string, body?: unknown, token?: string): Promise<Response> {
    return fetch(`${server.url}${route}`, {
      method,
      headers: { cookie: this.cookie, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  async start(lab: string, resume = false): Promise<{ status: number; info: SessionInfo }> {
    const res = await this.call('POST', '/api/sessions', resume ? { lab, resume } : { lab });
    const info = (await res.json()) as SessionInfo;
    assert.ok(res.status === 200 || res.status === 201, `starting ${lab}${resume ? ' (resume)' : ''}: ${res.status} ${JSON.stringify(info)}`);
    return { status: res.status, info };
  }

  async history(): Promise<HistoryResponse> {
    const res = await this.call('GET', '/api/me');
    assert.equal(res.status, 200);
    return (await res.json()) as HistoryResponse;
  }
}

function lastProgress(ch: ProtocolClient): LabProgress | undefined {
  return ch.of('lab').at(-1)?.progress;
}

/** Runs step `index`'s solution in the box as the learner would type it, then presses Check; resolves once it is done. */
async function pass(learner: Learner, info: SessionInfo, ch: ProtocolClient, index: number): Promise<void> {
  const session = server.sessions.byId(info.id)!;
  const step = session.lab.steps[index]!;
  const result = await server.driver.runScript(session.boxes.get(step.host)!, step.solution, 120_000);
  assert.equal(result.exitCode, 0, `step ${index + 1}'s solution: ${result.output}`);
  const res = await learner.call('POST', `/api/sessions/${info.id}/check`, undefined, info.token);
  assert.equal(res.status, 202);
  await ch.waitFor(`step ${index + 1} done`, () => lastProgress(ch)?.steps[index] === 'done', 60_000);
}

/** Waits until the server no longer has the session (the sweep removed its box). */
async function gone(id: string): Promise<void> {
  await until(`session ${id} removed`, () => !server.sessions.byId(id), 30_000);
}

describe('resume on a fresh box (docker-run, real engine)', () => {
  const ada = new Learner();
  let token = '';

  test('steps 1-3 feed the history; the idle timeout removes the box; Continue replays them and step 4 finds their containers', async () => {
    const { info } = await ada.start('docker-run');
    const ch = await ProtocolClient.openSession(server.url, info.token);
    for (const i of [0, 1, 2]) await pass(ada, info, ch, i);

    let mine = await ada.history();
    assert.equal(mine.attempts.length, 1);
    const attempt = mine.attempts[0]!;
    assert.equal(attempt.state, 'in-progress');
    assert.equal(attempt.passed, 3);
    assert.equal(attempt.steps, 8);
    assert.equal(attempt.live, true);
    assert.deepEqual(attempt.resume, { step: 4 });

    // While its box runs, Continue hands the same session back (nothing new starts).
    const again = await ada.start('docker-run', true);
    assert.equal(again.status, 200);
    assert.equal(again.info.id, info.id);

    // The learner leaves: no browser attached, so the idle timeout removes the box.
    ch.close();
    await gone(info.id);
    mine = await ada.history();
    assert.equal(mine.attempts[0]!.live, undefined);
    assert.deepEqual(mine.attempts[0]!.resume, { step: 4 });

    const started = Date.now();
    const resumed = await ada.start('docker-run', true);
    assert.equal(resumed.status, 201);
    assert.notEqual(resumed.info.id, info.id);
    const ch2 = await ProtocolClient.openSession(server.url, resumed.info.token);
    await ch2.waitFor('the replay to end', () => lastProgress(ch2)?.replay?.state === 'done', 120_000);
    const replayMs = Date.now() - started;
    console.log(`# resumed docker-run at step 4 (3 steps replayed) in ${replayMs} ms`);
    const landed = lastProgress(ch2)!;
    assert.equal(landed.current, 3);
    assert.deepEqual(landed.steps, ['done', 'done', 'done', 'current', 'pending', 'pending', 'pending', 'pending']);
    // The replay was shown as it went: each step in turn.
    const replaying = ch2.of('lab').map((m) => m.progress.replay).filter((r) => r?.state === 'running').map((r) => r!.state === 'running' && r!.step);
    assert.deepEqual([...new Set(replaying)], [1, 2, 3]);

    // What step 4 builds on is really in the fresh box: the containers of steps 1-3, and the published port.
    const box = server.sessions.byId(resumed.info.id)!.box;
    const ps = await server.driver.runScript(box, "docker ps --format '{{.Names}}' | sort | tr '\\n' ' '; curl -fsS -m 5 -o /dev/null -w '%{http_code}' http://localhost:8080/", 30_000);
    assert.equal(ps.exitCode, 0, ps.output);
    assert.match(ps.output, /nap shell web1 web2 200/);

    // A recording made during the attempt is linked from its proof.
    const term = await ProtocolClient.open(server.url, resumed.info.token);
    const rec = await ada.call('POST', `/api/sessions/${resumed.info.id}/terminals/main/recording`, { on: true }, resumed.info.token);
    assert.equal(rec.status, 201);
    const share = ((await rec.json()) as { share: string }).share;
    assert.equal((await ada.call('POST', `/api/sessions/${resumed.info.id}/terminals/main/recording`, { on: false }, resumed.info.token)).status, 204);

    for (const i of [3, 4, 5, 6, 7]) await pass(ada, resumed.info, ch2, i);
    assert.equal(lastProgress(ch2)!.finished, true);
    term.close();
    ch2.close();

    mine = await until('the attempt finished in the history', async () => {
      const h = await ada.history();
      return h.attempts[0]?.state === 'finished' ? h : undefined;
    });
    const done = mine.attempts[0]!;
    assert.equal(mine.attempts.length, 1, 'continuing is the same attempt, not a new one');
    assert.equal(done.passed, 8);
    assert.ok(done.finishedAt! >= done.startedAt);
    assert.equal(done.resume, undefined);
    assert.match(done.completion!, /^\/completions\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    token = done.completion!.slice('/completions/'.length);

    const proof = await fetch(`${server.url}/api/completions/${token}`);
    assert.equal(proof.status, 200);
    const verified = (await proof.json()) as CompletionResponse;
    assert.equal(verified.verified, true);
    if (!verified.verified) return;
    assert.equal(verified.completion.lab, 'docker-run');
    assert.equal(verified.completion.steps.length, 8);
    // Steps 1-3 keep the times they were first passed (before the break), not the replay's.
    assert.ok(verified.completion.steps[2]!.passedAt < started, 'step 3 was passed before the box was removed');
    assert.ok(verified.completion.steps[3]!.passedAt >= started);
    assert.deepEqual(verified.completion.recordings, [share]);
  });

  test('a tampered proof does not verify, nor one signed by another key, nor garbage', async () => {
    assert.ok(token, 'the test before issued a proof');
    const [payload, mac] = token.split('.') as [string, string];
    // One character of the statement changed (a step's time, the lab...): the signature no longer matches.
    const i = Math.floor(payload.length / 2);
    const tampered = `${payload.slice(0, i)}${payload[i] === 'A' ? 'B' : 'A'}${payload.slice(i + 1)}.${mac}`;
    const res = await fetch(`${server.url}/api/completions/${tampered}`);
    const body = (await res.json()) as CompletionResponse;
    assert.equal(body.verified, false);
    if (!body.verified) assert.match(body.reason, /signature does not match/);
    // A statement made up whole, signed with another key.
    const forged = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    forged.name = 'Someone Else';
    const forgedPayload = Buffer.from(JSON.stringify(forged)).toString('base64url');
    const forgedMac = crypto.createHmac('sha256', crypto.randomBytes(32)).update(`termlab-completion-v1.${forgedPayload}`).digest('base64url');
    assert.equal(((await (await fetch(`${server.url}/api/completions/${forgedPayload}.${forgedMac}`)).json()) as CompletionResponse).verified, false);
    for (const junk of ['nonsense', 'a.b.c', `${'x'.repeat(9000)}.y`]) {
      const r = await fetch(`${server.url}/api/completions/${junk}`);
      assert.equal(r.status, 400, junk.slice(0, 20));
      assert.equal(((await r.json()) as { code: string }).code, 'bad-token');
    }
  });

  test('erasing the history erases it, and withdraws the proof', async () => {
    assert.equal((await ada.call('DELETE', '/api/me')).status, 204);
    assert.deepEqual((await ada.history()).attempts, []);
    const body = (await (await fetch(`${server.url}/api/completions/${token}`)).json()) as CompletionResponse;
    assert.equal(body.verified, false);
    if (!body.verified) assert.match(body.reason, /withdrawn/);
  });
});

describe('resume on the shell fixtures', () => {
  test('a step whose solution fails on replay says so, leaves the learner at it, and start over begins a new attempt', async () => {
    const bo = new Learner();
    const { info } = await bo.start('unreplayable');
    const ch = await ProtocolClient.openSession(server.url, info.token);
    // The learner does step 1 their own way (the lab's solution would fail).
    const box = server.sessions.byId(info.id)!.box;
    assert.equal((await server.driver.runScript(box, 'touch /root/mark', 10_000)).exitCode, 0);
    await bo.call('POST', `/api/sessions/${info.id}/check`, undefined, info.token);
    await ch.waitFor('step 1 done', () => lastProgress(ch)?.steps[0] === 'done');
    ch.close();
    assert.equal((await bo.call('DELETE', `/api/sessions/${info.id}`, undefined, info.token)).status, 204);

    const resumed = await bo.start('unreplayable', true);
    assert.equal(resumed.status, 201);
    const ch2 = await ProtocolClient.openSession(server.url, resumed.info.token);
    await ch2.waitFor('the replay to fail', () => lastProgress(ch2)?.replay?.state === 'failed', 60_000);
    const failed = lastProgress(ch2)!;
    assert.equal(failed.current, 0);
    assert.deepEqual(failed.steps, ['current', 'pending']);
    const replay = failed.replay!;
    assert.ok(replay.state === 'failed');
    if (replay.state === 'failed') {
      assert.equal(replay.step, 1);
      assert.match(replay.message, /solution failed \(exit 3\): this solution is broken on purpose/);
    }
    // The history no longer counts step 1 as passed: the learner does it again here.
    const h = await until('step 1 no longer counted', async () => {
      const got = await bo.history();
      return got.attempts[0]?.passed === 0 ? got : undefined;
    });
    assert.equal(h.attempts[0]!.state, 'in-progress');
    ch2.close();

    // Start over: a new attempt; the unfinished one is left.
    const fresh = await bo.start('unreplayable');
    assert.equal(fresh.status, 201);
    const states = (await bo.history()).attempts.map((a) => a.state);
    assert.deepEqual(states, ['in-progress', 'left']);
    // Continue now means the new attempt, whose box runs.
    const cont = await bo.start('unreplayable', true);
    assert.equal(cont.status, 200);
    assert.equal(cont.info.id, fresh.info.id);
    await bo.call('DELETE', `/api/sessions/${fresh.info.id}`, undefined, fresh.info.token);
    await bo.call('DELETE', `/api/sessions/${resumed.info.id}`, undefined, resumed.info.token);
  });

  test('history is bounded per lab, nothing to resume is a clear 409, names are cleaned and writes limited', async () => {
    const cy = new Learner();
    const nothing = await cy.call('POST', '/api/sessions', { lab: 'resume-shell', resume: true });
    assert.equal(nothing.status, 409);
    assert.equal(((await nothing.json()) as { code: string }).code, 'nothing-to-resume');

    // attemptsPerLab is 2 here: the third start deletes the oldest.
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { info } = await cy.start('resume-shell');
      ids.push(info.id);
      await cy.call('DELETE', `/api/sessions/${info.id}`, undefined, info.token);
    }
    const h = await cy.history();
    assert.equal(h.attempts.length, 2);
    assert.deepEqual(h.attempts.map((a) => a.state), ['in-progress', 'left']);
    assert.equal(h.limits.attemptsPerLab, 2);

    const named = await cy.call('PUT', '/api/me', { name: '  Cy\u0000 \u202eLearner\n ' });
    assert.equal(named.status, 200);
    assert.equal(((await named.json()) as HistoryResponse).name, 'Cy Learner');
    assert.equal((await cy.call('PUT', '/api/me', { name: 'x'.repeat(61) })).status, 400);
    assert.equal((await cy.call('PUT', '/api/me', { name: 7 })).status, 400);
    // writesPerMinute is 4 here: one address cannot turn fresh cookies into a stream of rows.
    let limited = 0;
    for (let i = 0; i < 6; i++) if ((await new Learner().call('PUT', '/api/me', { name: `n${i}` })).status === 429) limited++;
    assert.ok(limited >= 3, `${limited} of 6 writes refused`);
  });

  test('a scripted learner: Continue from two tabs at once starts one box, and a replay counts against their live labs', async () => {
    const ed = new Learner();
    const first = await ed.start('resume-shell');
    assert.equal((await ed.call('DELETE', `/api/sessions/${first.info.id}`, undefined, first.info.token)).status, 204);
    // Both at once: one starts the fresh box, the other is told to wait (then gets that box back).
    const [a, b] = await Promise.all([0, 1].map(() => ed.call('POST', '/api/sessions', { lab: 'resume-shell', resume: true })));
    const answers = [a!, b!].map((r) => r.status).sort();
    assert.deepEqual(answers, [201, 409]);
    const refused = [a!, b!].find((r) => r.status === 409)!;
    assert.equal(((await refused.json()) as { code: string }).code, 'resuming');
    const resumed = (await [a!, b!].find((r) => r.status === 201)!.json()) as SessionInfo;
    const again = await ed.start('resume-shell', true);
    assert.equal(again.status, 200);
    assert.equal(again.info.id, resumed.id);
    await ed.call('DELETE', `/api/sessions/${resumed.id}`, undefined, resumed.token);

    // At the live-labs cap (3 per browser), a replayed Continue is refused like any start. Each lab
    // has its page attached (its session channel), as a learner's would: unattended, a lab goes after
    // this suite's 1.5 s idle timeout, and on a slow machine the first could go before the third starts.
    const live: SessionInfo[] = [];
    const pages: ProtocolClient[] = [];
    for (let i = 0; i < 3; i++) {
      live.push((await ed.start('unreplayable')).info);
      pages.push(await ProtocolClient.openSession(server.url, live.at(-1)!.token));
    }
    assert.ok(live.every((s) => server.sessions.byId(s.id)), 'the three labs are live');
    const full = await ed.call('POST', '/api/sessions', { lab: 'resume-shell', resume: true });
    assert.equal(full.status, 429, await full.clone().text());
    await ed.call('DELETE', `/api/sessions/${live[0]!.id}`, undefined, live[0]!.token);
    const room = await ed.start('resume-shell', true);
    assert.equal(room.status, 201);
    for (const page of pages) page.close();
    for (const s of [...live.slice(1), room.info]) await ed.call('DELETE', `/api/sessions/${s.id}`, undefined, s.token);
  });

  test('a lab may be extended as often as the operator allows; the channel carries the new end', async () => {
    const di = new Learner();
    const { info } = await di.start('resume-shell');
    assert.equal(info.extensionsLeft, 1);
    const ch = await ProtocolClient.openSession(server.url, info.token);
    const lifetimes = (): LifetimeMessage[] => ch.messages.filter((m) => (m as { type: string }).type === 'lifetime') as unknown as LifetimeMessage[];
    await ch.waitFor('the first lifetime', () => lifetimes().length === 1);
    assert.equal(lifetimes()[0]!.expiresAt, info.expiresAt);
    const res = await di.call('POST', `/api/sessions/${info.id}/extend`, undefined, info.token);
    assert.equal(res.status, 200);
    const extended = (await res.json()) as ExtendResponse;
    assert.ok(extended.expiresAt >= info.expiresAt + 10 * 60_000);
    assert.equal(extended.extensionsLeft, 0);
    await ch.waitFor('the new lifetime', () => lifetimes().length === 2);
    assert.equal(lifetimes()[1]!.expiresAt, extended.expiresAt);
    const refused = await di.call('POST', `/api/sessions/${info.id}/extend`, undefined, info.token);
    assert.equal(refused.status, 409);
    assert.equal(((await refused.json()) as { code: string }).code, 'no-extensions');
    assert.equal((await di.call('POST', `/api/sessions/${info.id}/extend`, undefined, 'not-the-token')).status, 404);
    ch.close();
    await di.call('DELETE', `/api/sessions/${info.id}`, undefined, info.token);
  });
});
