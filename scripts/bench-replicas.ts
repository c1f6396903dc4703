// `npm run bench -- --only replicas`: several gateway replicas (server/main.ts, each a process of
// its own) sharing one PostgreSQL database, behind nginx (Debian's), which keeps each learner on
// one replica by a hash of the learner cookie. Learners, each with a cookie of its own, start the
// hello lab through nginx, type into `cat` at 10 keys/s, do the lab's steps (each command's prompt
// runs the step's check), and reconnect their terminals. Prints per-learner echo, checks per
// second, the database's write rate, and how the learners spread over the replicas. Everything is
// real: engine, boxes, replicas, nginx, PostgreSQL. Asserts nothing.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { echoRoundTrips, intoCat, leaveCat, percentile } from '../test/helpers/echo.js';
import { testInstance } from '../test/helpers/lab-server.js';
import { startNginx } from '../test/helpers/nginx.js';
import { databaseWrites, startPostgres } from '../test/helpers/postgres.js';
import { ProtocolClient } from '../test/helpers/protocol-client.js';
import { startReplicaProcess } from '../test/helpers/replica-process.js';

const METRICS_TOKEN = crypto.randomBytes(16).toString('hex');
const PROMPT = /# $/;
const ms = (v: number): string => `${v.toFixed(1)} ms`;

interface Learner { cookie: string; id: string; token: string; term: ProtocolClient; channel: ProtocolClient }

async function startLearner(url: string): Promise<Learner> {
  const cookie = `tl_learner=${crypto.randomBytes(18).toString('base64url')}`;
  const res = await fetch(`${url}/api/sessions`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{"lab":"hello"}' });
  if (res.status !== 201) throw new Error(`starting hello through nginx: ${res.status} ${await res.text()}`);
  const { id, token } = (await res.json()) as { id: string; token: string };
  const term = await ProtocolClient.open(url, token, { cols: 120, rows: 30, headers: { cookie } });
  await term.waitFor('prompt', () => PROMPT.test(term.text), 60_000);
  const channel = await ProtocolClient.openSession(url, token, { cookie });
  return { cookie, id, token, term, channel };
}

/** Sum of a counter over a replica's /metrics (all its label sets). */
async function counter(replica: string, name: string): Promise<number> {
  const text = await (await fetch(`${replica}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name)) sum += Number(line.split(' ').at(-1));
  return sum;
}

export async function benchReplicas(replicas: number, learners: number, keys: number): Promise<void> {
  const pgServer = startPostgres();
  const stops: Array<() => void | Promise<void>> = [() => pgServer.stop()];
  try {
    const databaseUrl = await pgServer.createDatabase();
    const instance = testInstance();
    const started = await Promise.all(Array.from({ length: replicas }, async () => {
      const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-replica-'));
      const r = await startReplicaProcess({
        TERMLAB_DATABASE_URL: databaseUrl, TERMLAB_INSTANCE: instance,
        TERMLAB_STATE_DIR: stateDir, TERMLAB_LOG_LEVEL: 'error',
        TERMLAB_TRUST_PROXY: '1', TERMLAB_METRICS_TOKEN: METRICS_TOKEN, TERMLAB_MAX_SESSIONS: String(learners),
        TERMLAB_SESSIONS_PER_IP: '1000', TERMLAB_SOCKETS_PER_IP: '4000', TERMLAB_SESSION_STARTS_PER_MINUTE: '6000', TERMLAB_SESSION_START_BURST: '1000',
      });
      stops.push(async () => {
        r.proc.kill('SIGTERM');
        await new Promise((resolve) => r.proc.once('exit', resolve));
        fs.rmSync(stateDir, { recursive: true, force: true });
      });
      return r;
    }));
    const lb = await startNginx(started.map((r) => r.url));
    stops.push(lb.stop);

    const t0 = performance.now();
    const people: Learner[] = [];
    // Started a few at a time, as a room arrives; each waits for its prompt.
    for (let i = 0; i < learners; i += 4) people.push(...await Promise.all(Array.from({ length: Math.min(4, learners - i) }, () => startLearner(lb.url))));
    const startS = (performance.now() - t0) / 1000;
    const spread = await Promise.all(started.map((r) => fetch(`${r.url}/api/health`).then((x) => x.json() as Promise<{ sessions: number }>)));
    console.log(`${replicas} replicas (server/main.ts) behind nginx (hash of the learner cookie), one PostgreSQL; ${learners} learners started the hello lab in ${startS.toFixed(1)} s; ` +
      `sessions per replica: ${spread.map((s) => s.sessions).join(', ')}`);

    const writes0 = await databaseWrites(databaseUrl);
    const checks0 = (await Promise.all(started.map((r) => counter(r.url, 'termlab_checks_total')))).reduce((a, b) => a + b, 0);
    const w0 = performance.now();
    // Typing: every learner at 10 keys/s, each at its own pace.
    const terms = people.map((p) => p.term);
    await intoCat(terms);
    const echoes = await echoRoundTrips(terms, keys, 100, true);
    await leaveCat(terms);
    // The lab's steps: each command's prompt runs the current step's check.
    // The hello lab's three steps, with a wrong turn or two, as learners take them: after the
    // command that does a step, the learner waits until the step turns green (its check passed).
    const commands: Array<[string, number]> = [['ls', 0], ['echo hello > ~/hello.txt', 1], ['mkdir -p ~/notes', 1],
      ['mv ~/hello.txt ~/notes/', 2], ['sleep 1000 &', 2], ['nohup sleep 1000 >/dev/null 2>&1 &', 3], ['ls ~/notes', 3]];
    await Promise.all(people.map(async (p) => {
      for (const [cmd, done] of commands) {
        const prompts = p.term.prompts();
        p.term.type(`${cmd}\r`);
        await p.term.waitFor('the prompt after a command', () => p.term.prompts() > prompts, 30_000);
        await p.channel.waitFor(`step ${done} green`, () => p.channel.stepsDone() >= done, 30_000);
      }
    }));
    // Reconnects: each terminal closed and opened again from its last byte, through nginx.
    const reconnects: number[] = [];
    await Promise.all(people.map(async (p) => {
      const at = p.term.offset;
      p.term.close();
      const r0 = performance.now();
      p.term = await ProtocolClient.open(lb.url, p.token, { cols: 120, rows: 30, resumeFrom: at, headers: { cookie: p.cookie } });
      reconnects.push(performance.now() - r0);
    }));
    const workS = (performance.now() - w0) / 1000;
    // PostgreSQL's backends report their counts when idle, up to 10 s late (PGSTAT_IDLE_INTERVAL):
    // read once they have (the replicas' leases add one commit per replica per 10 s meanwhile).
    const settleUntil = performance.now() + 11_000;
    while (performance.now() < settleUntil) await new Promise((r) => setTimeout(r, 500));
    const writes1 = await databaseWrites(databaseUrl);
    const checks1 = (await Promise.all(started.map((r) => counter(r.url, 'termlab_checks_total')))).reduce((a, b) => a + b, 0);
    const steps = people.map((p) => p.channel.stepsDone());
    console.log(`  echo through nginx, ${learners} learners at 10 keys/s (${echoes.length} keys): p50 ${ms(percentile(echoes, 50))}  p99 ${ms(percentile(echoes, 99))}`);
    console.log(`  checks: ${checks1 - checks0} in ${workS.toFixed(1)} s of work (${((checks1 - checks0) / workS).toFixed(1)}/s); steps done per learner: median ${steps.sort((a, b) => a - b)[Math.floor(steps.length / 2)]}`);
    console.log(`  reconnect through nginx, hello to ready: p50 ${ms(percentile(reconnects, 50))}  p99 ${ms(percentile(reconnects, 99))}`);
    console.log(`  PostgreSQL: ${writes1.rows - writes0.rows} rows written in ${writes1.commits - writes0.commits} commits over ${workS.toFixed(1)} s ` +
      `(${((writes1.rows - writes0.rows) / workS).toFixed(1)} rows/s, ${((writes1.commits - writes0.commits) / workS).toFixed(1)} commits/s, leases included)`);
    for (const p of people) {
      p.term.close();
      p.channel.close();
      await fetch(`${lb.url}/api/sessions/${p.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${p.token}`, cookie: p.cookie } });
    }
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}
