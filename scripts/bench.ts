// npm run bench: start-to-prompt time, keystroke echo round trip and memory per idle session,
// measured on this machine against a real server, engine and boxes. Prints figures; asserts nothing.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type Docker from 'dockerode';
import { loadConfig, type Config } from '../server/config.js';
import { startLabServer, type LabServer } from '../server/lab-server.js';
import { createLogger } from '../server/log.js';
import { LABEL } from '../server/sandbox/engine.js';
import { ensureWebBuilt, launchBrowser, waitForPrompt, waitForState } from '../test/helpers/browser.js';
import { echoRoundTrips as typeIntoCat, intoCat, leaveCat, percentile } from '../test/helpers/echo.js';
import { createSession, testInstance, until } from '../test/helpers/lab-server.js';
import { ProtocolClient } from '../test/helpers/protocol-client.js';
import { echoUnderAttack, startFlood } from '../test/security/probes-server.js';
import { Browser, createWorkshop, EventStream } from '../test/helpers/workshops.js';
import type { JoinResponse, WorkshopState } from '../protocol/workshops.js';
import { benchPeer } from './bench-peer.js';
import { benchPage } from './bench-page.js';
import { benchMirror } from './bench-mirror.js';
import { benchReplicas } from './bench-replicas.js';
import { benchResume } from './bench-resume.js';
import { benchSim } from './bench-sim.js';
import { benchKubeApi } from './bench-kube-api.js';

const PROMPT = /# $/;
const quick = process.argv.includes('--quick');

const pct = percentile;
const ms = (v: number) => `${v.toFixed(v < 10 ? 2 : 0)} ms`;
const mib = (v: number) => `${(v / 1024 / 1024).toFixed(1)} MiB`;

async function server(overrides: Partial<Config>): Promise<LabServer> {
  // Every session comes from this one process and address: the per-client limits would refuse them.
  const config = loadConfig(process.env, {
    port: 0, host: '127.0.0.1', instance: testInstance(), logLevel: 'error', pool: { shell: 0, docker: 0, kubernetes: 0 },
    sessionStartsPerMinute: 6000, sessionStartBurst: 1000, sessionsPerIp: 1000, socketsPerIp: 1000, ...overrides,
  });
  return startLabServer(config, createLogger('error'));
}

async function startToPrompt(srv: LabServer, lab: string): Promise<{ ms: number; client: ProtocolClient; id: string; token: string }> {
  const t0 = performance.now();
  const s = await createSession(srv, lab);
  const client = await ProtocolClient.open(srv.url, s.token, { cols: 120, rows: 30 });
  await client.waitFor('prompt', () => PROMPT.test(client.text), 60_000);
  return { ms: performance.now() - t0, client, ...s };
}

async function endSession(srv: LabServer, s: { id: string; token: string; client: ProtocolClient }): Promise<void> {
  s.client.close();
  await fetch(`${srv.url}/api/sessions/${s.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${s.token}` } });
}

async function benchStart(lab: string, profile: 'shell' | 'docker' | 'kubernetes', runs: number, warmRuns = runs): Promise<void> {
  const cold = await server({});
  const coldTimes: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = await startToPrompt(cold, lab);
    coldTimes.push(s.ms);
    await endSession(cold, s);
  }
  await cold.stop();
  const warm = await server({ pool: { shell: 0, docker: 0, kubernetes: 0, [profile]: 1 } });
  const warmTimes: number[] = [];
  for (let i = 0; i < warmRuns; i++) {
    await until('the pool to fill', () => warm.sessions.pooled[profile] === 1, 180_000);
    const s = await startToPrompt(warm, lab);
    warmTimes.push(s.ms);
    await endSession(warm, s);
  }
  await warm.stop();
  console.log(`start lab -> first prompt, ${profile} profile (${runs} cold, ${warmRuns} pre-started runs):`);
  const each = coldTimes.length <= 5 ? `  (runs: ${coldTimes.map(ms).join(', ')})` : '';
  console.log(`  cold box:        p50 ${ms(pct(coldTimes, 50))}  p95 ${ms(pct(coldTimes, 95))}${each}`);
  console.log(`  pre-started box: p50 ${ms(pct(warmTimes, 50))}  p95 ${ms(pct(warmTimes, 95))}`);
}

/** Each client types one character at a time into `cat` and waits for the tty's echo. */
async function echoRoundTrips(clients: ProtocolClient[], keystrokes: number): Promise<number[]> {
  await intoCat(clients);
  const times = await typeIntoCat(clients, keystrokes);
  await leaveCat(clients);
  return times;
}

async function benchEcho(): Promise<void> {
  const srv = await server({ maxSessions: 40 });
  try {
    for (const n of [1, 20]) {
      const sessions = [];
      for (let i = 0; i < n; i++) sessions.push(await startToPrompt(srv, 'hello'));
      const times = await echoRoundTrips(sessions.map((s) => s.client), n === 1 ? 300 : 100);
      console.log(`keystroke echo through the WebSocket, ${n} concurrent session${n > 1 ? 's' : ''} (${times.length} keystrokes): p50 ${ms(pct(times, 50))}  p99 ${ms(pct(times, 99))}`);
      for (const s of sessions) await endSession(srv, s);
    }
  } finally {
    await srv.stop();
  }
}

/**
 * Many learners at once, typing at a human pace: `n` sessions each typing into `cat` at 10 keys/s
 * (the target: p99 at most 15 ms with 50), with the server's event-loop delay beside it.
 */
async function benchMany(n: number, rounds: number): Promise<void> {
  const srv = await server({ maxSessions: n + 5, memoryBudgetMb: 64 * 1024 });
  try {
    const t0 = performance.now();
    const sessions = await Promise.all(Array.from({ length: n }, () => startToPrompt(srv, 'hello')));
    console.log(`${n} sessions typing at 10 keys/s each: all ${n} at their prompt in ${ms(performance.now() - t0)}`);
    const clients = sessions.map((s) => s.client);
    await intoCat(clients);
    // People typing on their own are not in step; in lockstep every client's key lands in the same
    // moment, and the last of 50 echoes waits for the 49 before it. Both are printed.
    for (const staggered of [true, false]) {
      for (let r = 0; r < rounds; r++) {
        const delay = monitorEventLoopDelay({ resolution: 1 });
        delay.enable();
        const times = await typeIntoCat(clients, 100, 100, staggered);
        delay.disable();
        console.log(`  round ${r + 1}, ${staggered ? 'each at its own pace' : 'all in lockstep'} (${times.length} keystrokes): echo p50 ${ms(pct(times, 50))}  p99 ${ms(pct(times, 99))}; ` +
          `event-loop delay p99 ${ms(delay.percentile(99) / 1e6)}  max ${ms(delay.max / 1e6)}`);
      }
    }
    for (const s of sessions) await endSession(srv, s);
  } finally {
    await srv.stop();
  }
}

function rssOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

/**
 * `n` sessions typing at 10 keys/s each, each at its own pace, before and while one more session
 * floods output (`yes`, its page in a process of its own): their echo p99 in each round and the
 * ratio of the medians.
 */
async function benchFloodAmongTyping(n: number, rounds: number): Promise<void> {
  const srv = await server({ maxSessions: n + 5, memoryBudgetMb: 64 * 1024 });
  try {
    const sessions = await Promise.all(Array.from({ length: n }, () => startToPrompt(srv, 'hello')));
    const flooder = await createSession(srv, 'hello');
    const clients = sessions.map((s) => s.client);
    await intoCat(clients);
    const p99s = async (): Promise<number[]> => {
      const out: number[] = [];
      for (let r = 0; r < rounds; r++) out.push(pct(await typeIntoCat(clients, 100, 100, true), 99));
      return out;
    };
    const quiet = await p99s();
    const flood = await startFlood(srv.url, flooder.token, ['output']);
    let flooding: number[];
    try {
      flooding = await p99s();
    } finally {
      flood.kill('SIGKILL');
    }
    const ratio = pct(flooding, 50) / pct(quiet, 50);
    console.log(`${n} sessions typing (10 keys/s each, own pace) while one more floods output: echo p99 per round ` +
      `quiet ${quiet.map(ms).join(', ')}; during the flood ${flooding.map(ms).join(', ')}; median ratio ${ratio.toFixed(2)}x`);
    for (const s of sessions) await endSession(srv, s);
  } finally {
    await srv.stop();
  }
}

async function boxMemory(docker: Docker, id: string): Promise<number> {
  const stats = await docker.getContainer(id).stats({ stream: false }) as unknown as { memory_stats: { usage?: number; stats?: { cache?: number; total_inactive_file?: number } } };
  const m = stats.memory_stats;
  return (m.usage ?? 0) - (m.stats?.total_inactive_file ?? m.stats?.cache ?? 0);
}

async function benchMemory(lab: string, n: number): Promise<void> {
  const srv = await server({ maxSessions: 40 });
  try {
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    const sessions = [];
    for (let i = 0; i < n; i++) sessions.push(await startToPrompt(srv, lab));
    await new Promise((r) => setTimeout(r, 3000));
    global.gc?.();
    const serverPerSession = (process.memoryUsage().rss - rssBefore) / n;
    const boxes = await Promise.all(sessions.map((s) => boxMemory(srv.driver.docker, srv.sessions.byId(s.id)!.box.id)));
    // The Docker backend's shells are local `docker exec` processes: their memory counts too.
    const ptys = sessions.map((s) => rssOf(srv.sessions.byId(s.id)!.existingTerminals()[0]!.pid));
    const avg = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const profile = srv.sessions.byId(sessions[0]!.id)!.box.profile;
    console.log(`memory per idle session, ${profile} profile (${n} sessions): box ${mib(avg(boxes))} (cgroup, without page cache) + docker exec client ${mib(avg(ptys))} + lab server ${mib(serverPerSession)} = ${mib(avg(boxes) + avg(ptys) + serverPerSession)}`);
    for (const s of sessions) await endSession(srv, s);
  } finally {
    await srv.stop();
  }
}

/**
 * runc against runsc (TERMLAB_RUNTIME), side by side: cold start to prompt of shell and docker
 * boxes, keystroke echo through the WebSocket (1 session) and idle memory per box (the box's cgroup
 * without page cache: under runsc that includes gVisor's sentry and gofer).
 */
async function benchRuntimes(runs: number, dockerRuns: number, keystrokes: number): Promise<void> {
  const runtimes = ['runc', 'runsc'] as const;
  const rows = new Map<string, string[]>();
  const put = (label: string, value: string) => rows.set(label, [...(rows.get(label) ?? []), value]);
  for (const runtime of runtimes) {
    const srv = await server({ maxSessions: 10, engine: { ...loadConfig().engine, runtime } });
    try {
      for (const [lab, profile, n] of [['hello', 'shell', runs], ['hello-docker', 'docker', dockerRuns]] as const) {
        const times: number[] = [];
        for (let i = 0; i < n; i++) {
          const s = await startToPrompt(srv, lab);
          times.push(s.ms);
          await endSession(srv, s);
        }
        put(`start -> prompt, ${profile}, cold (${n} runs)`, `p50 ${ms(pct(times, 50))} p95 ${ms(pct(times, 95))}`);
      }
      const s = await startToPrompt(srv, 'hello');
      const echo = await echoRoundTrips([s.client], keystrokes);
      put(`keystroke echo, 1 session (${keystrokes} keys)`, `p50 ${ms(pct(echo, 50))} p99 ${ms(pct(echo, 99))}`);
      await endSession(srv, s);
      for (const [lab, profile] of [['hello', 'shell'], ['hello-docker', 'docker']] as const) {
        const sessions = [await startToPrompt(srv, lab), await startToPrompt(srv, lab)];
        await new Promise((r) => setTimeout(r, 3000));
        const boxes = await Promise.all(sessions.map((x) => boxMemory(srv.driver.docker, srv.sessions.byId(x.id)!.box.id)));
        put(`idle memory per box, ${profile} (cgroup, 2 boxes)`, mib(boxes.reduce((a, b) => a + b, 0) / boxes.length));
        for (const x of sessions) await endSession(srv, x);
      }
    } finally {
      await srv.stop();
    }
  }
  const width = Math.max(...[...rows.keys()].map((k) => k.length));
  console.log(`runtimes (TERMLAB_RUNTIME), side by side:\n  ${''.padEnd(width)}  ${runtimes.map((r) => r.padEnd(28)).join('')}`);
  for (const [label, values] of rows) console.log(`  ${label.padEnd(width)}  ${values.map((v) => v.padEnd(28)).join('')}`);
}

/**
 * In the page: for each step, "Show me" types the solution; the time from the page seeing the
 * prompt marker that ends the completing command to the step's status turning "done" in the DOM.
 */
async function benchGreen(labs: string[]): Promise<void> {
  ensureWebBuilt();
  const srv = await server({});
  const browser = await launchBrowser();
  const deltas: number[] = [];
  try {
    for (const lab of labs) {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(srv.url);
      await page.locator(`[data-testid=start-${lab}]`).click();
      await waitForState(page, 'connected', 60_000);
      await waitForPrompt(page);
      await page.evaluate(() => {
        const w = window as unknown as { __marks: number[]; __termlab: { term: { parser: { registerOscHandler(id: number, h: () => boolean): void } } } };
        w.__marks = [];
        w.__termlab.term.parser.registerOscHandler(6973, () => { w.__marks.push(performance.now()); return false; });
      });
      const total = await page.locator('[data-testid^="step-"][data-status]').count();
      for (let n = 1; n <= total; n++) {
        const step = await page.locator(`[data-testid=step-${n}]`).elementHandle();
        await page.evaluate((el) => {
          const w = window as unknown as { __green?: number };
          w.__green = undefined;
          new MutationObserver((_, obs) => {
            if (el?.getAttribute('data-status') === 'done') { w.__green = performance.now(); obs.disconnect(); }
          }).observe(el!, { attributes: true });
        }, step);
        await page.locator('[data-testid=show-me]').click();
        await page.waitForFunction(() => (window as unknown as { __green?: number }).__green !== undefined, null, { timeout: 60_000 });
        const delta = await page.evaluate(() => {
          const w = window as unknown as { __green: number; __marks: number[] };
          const before = w.__marks.filter((m) => m <= w.__green);
          return w.__green - (before.at(-1) ?? NaN);
        });
        deltas.push(delta);
      }
      await page.locator('[data-testid=end-lab]').click();
      await page.close();
    }
  } finally {
    await browser.close();
    await srv.stop();
  }
  console.log(`completing command's end -> step green in the page (${deltas.length} steps of ${labs.join(', ')}): p50 ${ms(pct(deltas, 50))}  p95 ${ms(pct(deltas, 95))}`);
}

/** Output throughput of one terminal to a WebSocket client, with and without a recording of it. */
async function benchThroughput(mb: number): Promise<void> {
  const srv = await server({});
  try {
    const results: string[] = [];
    for (const record of [false, true, false, true]) {
      const s = await startToPrompt(srv, 'hello');
      if (record) {
        const res = await fetch(`${srv.url}/api/sessions/${s.id}/terminals/main/recording`, {
          method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${s.token}` }, body: JSON.stringify({ on: true }),
        });
        if (res.status !== 201) throw new Error(`recording did not start: ${res.status}`);
      }
      s.client.keepBytes = 64 * 1024;
      const start = s.client.offset;
      const t0 = performance.now();
      s.client.type(`yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz | head -c ${mb * 1024 * 1024}; echo; echo end-$((6*7))\r`);
      await s.client.waitForText('end-42\r\n', 300_000);
      const seconds = (performance.now() - t0) / 1000;
      const bytes = s.client.offset - start;
      results.push(`${record ? 'recording' : 'no recording'} ${(bytes / 1024 / 1024 / seconds).toFixed(1)} MiB/s`);
      s.client.output = Buffer.alloc(0);
      await endSession(srv, s);
    }
    console.log(`terminal output throughput to one client (${mb} MiB of yes, 2 runs each): ${results.join(', ')}`);
  } finally {
    await srv.stop();
  }
}

/**
 * Another learner's echo while one box does its worst (the security battery's probe, several
 * rounds): quiet p99, the attack's onset (its first 100 keys) and its steady state, and the ratio.
 */
async function benchAttack(rounds: number): Promise<void> {
  const srv = await server({ host: '::', maxSessions: 10 });
  try {
    const ratios: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const r = await echoUnderAttack(srv);
      ratios.push(r.steady / r.quiet);
      console.log(`echo during the worst attack, round ${i + 1}: ${r.effect}`);
      // The two boxes go before the next round (their removal costs the kernel CPU).
      await until('the round\'s boxes gone', async () => (await srv.driver.docker.listContainers({ filters: { label: [`${LABEL.instance}=${srv.config.instance}`] } })).length === 0, 60_000, 200);
    }
    console.log(`echo during the worst attack: steady/quiet p99 ratio median ${pct(ratios, 50).toFixed(2)}x, worst ${Math.max(...ratios).toFixed(2)}x over ${rounds} rounds`);
  } finally {
    await srv.stop();
  }
}

/**
 * A workshop on this machine: `seats` learners join a warm room and type at 10 keys/s each; then
 * an instructor's dashboard follows the room's events and two viewers watch two learners.
 */
async function benchWorkshop(seats: number, keys: number): Promise<void> {
  const srv = await server({ maxSessions: seats + 10 });
  const staff = new Browser(srv.url);
  try {
    const w = await createWorkshop(staff, { title: 'bench', labs: ['hello'], seats });
    await staff.enter(w.instructorUrl);
    const t0 = performance.now();
    await until('the room\'s boxes warm', async () => (await staff.json<WorkshopState>(`/api/workshops/${w.id}`)).warm >= seats, 600_000, 250);
    console.log(`workshop of ${seats} shell seats: boxes warm after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const learners: Array<{ seat: string; token: string; client: ProtocolClient }> = [];
    const joins: number[] = [];
    for (let i = 0; i < seats; i++) {
      const b = new Browser(srv.url);
      const start = performance.now();
      const joined = await b.json<JoinResponse>(`/api/w/${w.code}/join`, { body: { name: `learner ${i + 1}` } });
      const client = await ProtocolClient.open(srv.url, joined.session.token);
      await client.waitForText(PROMPT, 30_000);
      joins.push(performance.now() - start);
      learners.push({ seat: joined.seat, token: joined.session.token, client });
    }
    console.log(`  join -> prompt with a warm box (${seats} learners one after another): p50 ${ms(pct(joins, 50))}  p95 ${ms(pct(joins, 95))}`);
    const clients = learners.map((l) => l.client);
    const typing = async (): Promise<number[]> => {
      await intoCat(clients);
      const times = await typeIntoCat(clients, keys, 100);
      await leaveCat(clients);
      return times;
    };
    const alone = await typing();
    const events = await EventStream.open(staff, w.id);
    const viewers = await Promise.all(learners.slice(0, 2).map(async (l) => {
      const { ticket } = await staff.json<{ ticket: string }>(`/api/workshops/${w.id}/seats/${l.seat}/view`, { body: {} });
      return ProtocolClient.openView(srv.url, ticket);
    }));
    const watched = await typing();
    console.log(`  echo, ${seats} learners at 10 keys/s (${alone.length} keys): p50 ${ms(pct(alone, 50))}  p99 ${ms(pct(alone, 99))}`);
    console.log(`  echo, the same with a dashboard and 2 viewers:   p50 ${ms(pct(watched, 50))}  p99 ${ms(pct(watched, 99))}`);

    // A viewer's delay: a key typed by the learner until the viewer has its echo.
    const viewerDelays: number[] = [];
    const [watchedLearner, viewer] = [learners[0]!.client, viewers[0]!];
    await intoCat([watchedLearner]);
    for (let i = 0; i < keys; i++) {
      const ch = String.fromCharCode(97 + (i % 26));
      const before = viewer.offset;
      const start = performance.now();
      watchedLearner.type(ch);
      await viewer.waitFor('the viewer\'s echo', () => viewer.offset > before && viewer.output.subarray(viewer.output.length - (viewer.offset - before)).includes(ch), 10_000);
      viewerDelays.push(performance.now() - start);
      await new Promise((r) => setTimeout(r, 100));
    }
    await leaveCat([watchedLearner]);
    console.log(`  viewer delay, keystroke -> its echo in the viewer (${keys} keys): p50 ${ms(pct(viewerDelays, 50))}  p95 ${ms(pct(viewerDelays, 95))}`);

    // The dashboard's delay: the learner's page hears its step passed, until the dashboard does.
    const delays: number[] = [];
    for (const l of learners) {
      // The page's session channel, opened now (a channel silent for 30 s is closed as dead).
      const channel = await ProtocolClient.openSession(srv.url, l.token);
      const heardAt = channel.waitFor('the pass on the learner\'s channel', () => channel.of('lab').some((m) => m.progress.steps[0] === 'done'), 30_000)
        .then(() => performance.now());
      l.client.type('echo hello > ~/hello.txt\r');
      const onDashboard = events.waitFor('the pass on the dashboard', (e, at) => e.type === 'seat' && e.row.seat === l.seat && e.row.steps[0]?.state === 'passed' ? at : undefined, 30_000);
      const [learnerAt, dashboardAt] = await Promise.all([heardAt, onDashboard]);
      delays.push(Math.max(0, dashboardAt - learnerAt));
      channel.close();
    }
    console.log(`  dashboard event delay, learner's page -> dashboard (${delays.length} step passes): p50 ${ms(pct(delays, 50))}  p95 ${ms(pct(delays, 95))}`);
    for (const v of viewers) v.close();
    await events.close();
    for (const l of learners) l.client.close();
  } finally {
    await srv.stop();
  }
}

async function main(): Promise<void> {
  const cpu = execFileSync('sh', ['-c', "nproc; grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"]).toString().trim().replace(/\n/g, ' cores,');
  console.log(`termlab benchmark, ${new Date().toISOString()}, ${cpu}, node ${process.version}`);
  const runs = quick ? 3 : 10;
  const parts: Record<string, () => Promise<void>> = {
    start: async () => {
      await benchStart('hello', 'shell', runs);
      await benchStart('hello-docker', 'docker', quick ? 2 : 5);
      await benchStart('helm', 'kubernetes', quick ? 1 : 3, quick ? 1 : 2);
    },
    // The Helm lab alone (one kubernetes box at a time): `npm run bench -- --only start-kubernetes`.
    'start-kubernetes': () => benchStart('helm', 'kubernetes', quick ? 1 : 3, quick ? 1 : 2),
    echo: benchEcho,
    many: () => benchMany(quick ? 20 : 50, quick ? 1 : 3),
    'flood-among-typing': () => benchFloodAmongTyping(20, quick ? 2 : 5),
    memory: async () => { await benchMemory('hello', quick ? 2 : 5); await benchMemory('hello-docker', quick ? 1 : 3); },
    throughput: () => benchThroughput(quick ? 8 : 32),
    runtimes: () => benchRuntimes(quick ? 3 : 5, quick ? 2 : 3, quick ? 100 : 300),
    attack: () => benchAttack(quick ? 2 : 5),
    workshop: () => benchWorkshop(quick ? 10 : 30, quick ? 50 : 100),
    green: () => benchGreen(quick ? ['hello', 'hello-docker'] : ['hello', 'hello-docker', 'volumes', 'namespaces']),
    peer: () => benchPeer({ server, quick }),
    page: () => benchPage(server, quick ? 5 : 10),
    resume: () => benchResume(server, quick ? 2 : 5),
    mirror: () => benchMirror(quick ? 1 : 3),
    replicas: () => benchReplicas(2, quick ? 8 : 40, quick ? 30 : 100),
    sim: () => benchSim(quick ? 100 : 1000, quick ? 10 : 30),
    // Kubernetes API server requests per learner, from its own counters (a real cluster): `--only kube-api`.
    'kube-api': () => benchKubeApi(quick ? 3 : 8, quick ? 20 : 60, quick ? 20 : 60, quick ? 30 : 60),
  };
  // --only NAME[,NAME]: run some parts (start, start-kubernetes, echo, many, flood-among-typing, memory, throughput, runtimes, attack, workshop, green, peer, page, resume, mirror, replicas, sim, kube-api).
  const only = process.argv.find((a, i) => process.argv[i - 1] === '--only')?.split(',');
  for (const [name, run] of Object.entries(parts)) if (!only || only.includes(name)) await run();
}

await main();
process.exit(0);
