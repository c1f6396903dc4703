// `npm run bench -- --only kube-api`: the Kubernetes API server's requests per learner, measured.
// A real single-node cluster (termlab's kubernetes box, test/helpers/kube-cluster.ts) and a lab
// server on the kubernetes backend; N learners go through phases (start to first prompt, a
// steady minute of typing and the hello lab's checks, reconnects, an idle minute, end). Before and
// after each phase the API server's own counters are read (`apiserver_request_total` on its
// /metrics, with the kubeconfig's admin credentials), grouped by verb and resource/subresource;
// the background rate (controllers, kubelet, leases: the same counters over an idle interval with
// no session) is subtracted. Counts include what sessions make the controllers and the kubelet do
// (namespace deletion, pod status); those components' own client counters split them from the
// gateway's requests. The gateway's driver calls (checks, disk polls, shells) are counted by
// wrapping its driver object. N is small for a 2-core machine. Prints figures; asserts nothing.
import https from 'node:https';
import type { LabServer } from '../server/lab-server.js';
import type { SandboxDriver } from '../server/sandbox/sandbox-driver.js';
import { startKubeCluster, type KubeCluster } from '../test/helpers/kube-cluster.js';
import { createSession, startTestServer, testInstance, until } from '../test/helpers/lab-server.js';
import { ProtocolClient } from '../test/helpers/protocol-client.js';
import { uniqueInstance } from '../test/server/sandbox/helpers.js';

type Counts = Map<string, number>;

/** The API server's /metrics through the kubeconfig's credentials (client certificate, CA, tls-server-name). */
async function apiMetrics(cluster: KubeCluster): Promise<string> {
  const kc = cluster.kubeConfig;
  const server = new URL(kc.getCurrentCluster()!.server);
  const opts: https.RequestOptions = { method: 'GET', hostname: server.hostname, port: server.port, path: '/metrics' };
  await kc.applyToHTTPSOptions(opts);
  const tlsServerName = kc.getCurrentCluster()?.tlsServerName;
  if (tlsServerName) opts.servername = tlsServerName;
  return new Promise((resolve, reject) => {
    const req = https.request(opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => (res.statusCode === 200 ? resolve(body)
        : reject(new Error(`GET /metrics on the API server: ${res.statusCode} ${body.slice(0, 300)}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Requests each cluster component made, by its own client's counter (`rest_client_requests_total`,
 * all codes and methods): the kubelet (10250), controller-manager (10257) and scheduler (10259)
 * through the admin certificate (their serving certificates are self-signed: not verified). What
 * is left of the API server's count is the gateway's (kube-proxy's and CoreDNS's few watches aside:
 * their metrics are not served off the box). Client-side a watch counts when it starts, on the API
 * server when it ends; execs and watches are long-running, counted there when they end.
 */
async function componentCounts(cluster: KubeCluster): Promise<Counts> {
  const sumOf = (text: string): number => text.split('\n').filter((l) => l.startsWith('rest_client_requests_total{'))
    .reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);
  const counts: Counts = new Map();
  await Promise.all(Object.entries({ kubelet: 10250, 'controller-manager': 10257, scheduler: 10259 }).map(async ([name, port]) => {
    const opts: https.RequestOptions = { method: 'GET', hostname: cluster.box.ip, port, path: '/metrics' };
    await cluster.kubeConfig.applyToHTTPSOptions(opts);
    opts.rejectUnauthorized = false;
    const text = await new Promise<string>((resolve, reject) => {
      const req = https.request(opts, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => { body += d; });
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${name} /metrics: ${res.statusCode} ${body.slice(0, 200)}`))));
      });
      req.on('error', reject);
      req.end();
    });
    counts.set(name, sumOf(text));
  }));
  return counts;
}

const label = (labels: string, name: string): string => new RegExp(`(?:^|,)${name}="([^"]*)"`).exec(labels)?.[1] ?? '';

/** apiserver_request_total summed per "VERB group/resource/subresource" (codes and scopes merged). */
async function requestCounts(cluster: KubeCluster): Promise<{ counts: Counts; longRunning: Counts }> {
  const text = await apiMetrics(cluster);
  const counts: Counts = new Map();
  const longRunning: Counts = new Map();
  for (const line of text.split('\n')) {
    const m = /^(apiserver_request_total|apiserver_longrunning_requests)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const labels = m[2]!;
    const group = label(labels, 'group');
    const resource = label(labels, 'resource');
    const sub = label(labels, 'subresource');
    const what = resource ? `${group ? `${group}/` : ''}${resource}${sub ? `/${sub}` : ''}` : '(non-resource)';
    const key = `${label(labels, 'verb')} ${what}`;
    const into = m[1] === 'apiserver_request_total' ? counts : longRunning;
    into.set(key, (into.get(key) ?? 0) + Number(m[3]));
  }
  return { counts, longRunning };
}

function diff(a: Counts, b: Counts): Counts {
  const d: Counts = new Map();
  for (const [k, v] of b) if (v - (a.get(k) ?? 0) !== 0) d.set(k, v - (a.get(k) ?? 0));
  return d;
}

const sum = (c: Counts): number => [...c.values()].reduce((x, y) => x + y, 0);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What the gateway's driver was asked to do, counted by wrapping the server's own driver object. */
interface DriverCalls { create: number; destroy: number; openShell: number; runScript: number; writableBytes: number; dial: number }

function countDriverCalls(driver: SandboxDriver): { calls: DriverCalls; destroying: Set<Promise<unknown>> } {
  const calls: DriverCalls = { create: 0, destroy: 0, openShell: 0, runScript: 0, writableBytes: 0, dial: 0 };
  const destroying = new Set<Promise<unknown>>();
  const d = driver as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of Object.keys(calls) as Array<keyof DriverCalls>) {
    const original = d[name]!.bind(driver);
    d[name] = (...args: unknown[]) => {
      calls[name]++;
      const r = original(...args);
      if (name === 'destroy') {
        const p = Promise.resolve(r).catch(() => {});
        destroying.add(p);
        void p.then(() => destroying.delete(p));
      }
      return r;
    };
  }
  return { calls, destroying };
}

interface Learner { id: string; token: string; term: ProtocolClient; channel: ProtocolClient }

const PROMPT = /# $/;

async function startLearner(srv: LabServer): Promise<Learner> {
  const { id, token } = await createSession(srv, 'hello');
  const term = await ProtocolClient.open(srv.url, token, { cols: 120, rows: 30 });
  await term.waitFor('prompt', () => PROMPT.test(term.text), 120_000);
  const channel = await ProtocolClient.openSession(srv.url, token);
  return { id, token, term, channel };
}

/**
 * The hello lab as a learner takes it, with wrong turns and looking around: every command ends in
 * a prompt, and every prompt runs the current step's check (until the lab is finished).
 */
const COMMANDS = [
  'ls', 'cat ~/hello.txt', 'echo hello > ~/hello.txt', 'cat ~/hello.txt', 'mkdir ~/notes', 'ls -l ~',
  'mv ~/hello.txt ~/notes/', 'ls -l ~/notes', 'sleep 1000 &', 'ps aux | grep sleep', 'date', 'uname -a',
  'cat ~/notes/hello.txt', 'df -h /', 'history | tail -3',
];

/** Types commands one key at a time at ~`keysPerS` (jittered), waits for each prompt, pauses 2-4 s, until `untilMs`. */
async function typeLikeAPerson(l: Learner, untilMs: number, keysPerS: number): Promise<{ keys: number; commands: number }> {
  let keys = 0;
  let commands = 0;
  for (let i = 0; performance.now() < untilMs; i++) {
    const line = `${COMMANDS[i % COMMANDS.length]}\r`;
    const before = l.term.prompts();
    for (const ch of line) {
      l.term.type(ch);
      keys++;
      await sleep((1000 / keysPerS) * (0.5 + Math.random()));
    }
    await l.term.waitFor('the prompt after a command', () => l.term.prompts() > before, 30_000);
    commands++;
    await sleep(2000 + Math.random() * 2000);
  }
  return { keys, commands };
}

interface Phase { name: string; seconds: number; delta: Counts; components: Counts; calls: DriverCalls }

export async function benchKubeApi(n: number, steadyS: number, idleS: number, backgroundS: number): Promise<void> {
  const t0 = Date.now();
  const cluster = await startKubeCluster(uniqueInstance('kapi'), ['shell']);
  let srv: LabServer | undefined;
  const learners: Learner[] = [];
  try {
    console.log(`kube-api: cluster box up in ${(cluster.startMs / 1000).toFixed(1)} s (image import ${(cluster.importMs / 1000).toFixed(1)} s); ${n} learners, hello lab`);
    srv = await startTestServer({
      instance: testInstance(), backend: 'kubernetes', logLevel: 'error', maxSessions: n + 5,
      sessionStartsPerMinute: 6000, sessionStartBurst: 1000, sessionsPerIp: 1000, socketsPerIp: 1000,
      kubernetes: { kubeconfig: cluster.kubeconfigPath, namespacePrefix: 'tl-', images: {}, runtimeClass: undefined },
    });
    const server = srv;
    console.log(`  lab server on the kubernetes backend; disk ${server.driver.enforcesDisk ? 'capped by ephemeral-storage limits' : `polled by exec (du) every sweep, ${server.config.sweepIntervalMs / 1000} s`}`);
    const { calls, destroying } = countDriverCalls(server.driver);

    // Let the fresh cluster's start-up traffic (controllers' first syncs, the lab server's first sweep) pass.
    await sleep(20_000);
    const scrape = async () => {
      const [api, components] = await Promise.all([requestCounts(cluster), componentCounts(cluster)]);
      return { at: performance.now(), ...api, components };
    };
    // What one scrape (the GET /metrics itself) adds to the counts: 0 on this cluster. Each phase,
    // like the background interval, holds one scrape at most: under 1 request a phase either way.
    const s0 = await scrape();
    const s1 = await scrape();
    const perScrape = sum(diff(s0.counts, s1.counts));

    // Background: nobody on it.
    const bgStart = await scrape();
    await sleep(backgroundS * 1000);
    const bgEnd = await scrape();
    const bgSeconds = (bgEnd.at - bgStart.at) / 1000;
    const background = diff(bgStart.counts, bgEnd.counts);
    const bgRate = new Map([...background].map(([k, v]) => [k, v / bgSeconds]));
    const bgComponents = diff(bgStart.components, bgEnd.components);
    const bgComponentRate = new Map([...bgComponents].map(([k, v]) => [k, v / bgSeconds]));
    console.log(`  background (no sessions, ${bgSeconds.toFixed(0)} s): ${(sum(background) / bgSeconds).toFixed(2)} requests/s ` +
      `(${top(background, 6).map(([k, v]) => `${k} ${(v / bgSeconds * 60).toFixed(1)}/min`).join(', ')}); one GET /metrics scrape counts ${perScrape}`);
    console.log(`    of which (their own clients' counters, per minute): ${[...bgComponents].map(([k, v]) => `${k} ${(v / bgSeconds * 60).toFixed(1)}`).join(', ')}; ` +
      `the rest ${((sum(background) - sum(bgComponents)) / bgSeconds * 60).toFixed(1)}`);

    const phases: Phase[] = [];
    const measure = async (name: string, work: () => Promise<void>): Promise<Phase> => {
      const before = await scrape();
      const callsBefore = { ...calls };
      await work();
      const after = await scrape();
      const seconds = (after.at - before.at) / 1000;
      const raw = diff(before.counts, after.counts);
      const delta: Counts = new Map();
      for (const k of new Set([...raw.keys(), ...bgRate.keys()])) {
        const v = (raw.get(k) ?? 0) - (bgRate.get(k) ?? 0) * seconds;
        delta.set(k, v);
      }
      const rawComponents = diff(before.components, after.components);
      const components: Counts = new Map();
      for (const k of new Set([...rawComponents.keys(), ...bgComponentRate.keys()])) {
        components.set(k, (rawComponents.get(k) ?? 0) - (bgComponentRate.get(k) ?? 0) * seconds);
      }
      const phaseCalls = Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, v - callsBefore[k as keyof DriverCalls]])) as unknown as DriverCalls;
      const p = { name, seconds, delta, components, calls: phaseCalls };
      phases.push(p);
      report(p, n, after.longRunning);
      return p;
    };

    await measure('start (session start to first prompt, then 10 s settling)', async () => {
      const t = performance.now();
      learners.push(...await Promise.all(Array.from({ length: n }, () => startLearner(server))));
      console.log(`\n  ${n} sessions at their first prompt in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      await sleep(10_000);
    });

    let typed = { keys: 0, commands: 0 };
    let stepsPassed = 0;
    await measure(`steady (${steadyS} s of typing at ~4 keys/s and the hello lab's commands)`, async () => {
      const until = performance.now() + steadyS * 1000;
      const r = await Promise.all(learners.map((l) => typeLikeAPerson(l, until, 4)));
      typed = { keys: r.reduce((a, x) => a + x.keys, 0), commands: r.reduce((a, x) => a + x.commands, 0) };
      const steps = learners.map((l) => l.channel.stepsDone()).sort((a, b) => a - b);
      stepsPassed = steps.reduce((a, b) => a + b, 0);
      console.log(`\n  typed ${typed.keys} keys, ${typed.commands} commands; steps done per learner: ${steps.join(' ')}`);
      await sleep(3000);
    });

    await measure('reconnects (2 per learner: terminal socket closed, opened again from its offset)', async () => {
      for (let round = 0; round < 2; round++) {
        await Promise.all(learners.map(async (l) => {
          const at = l.term.offset;
          l.term.close();
          await l.term.waitForClose();
          l.term = await ProtocolClient.open(server.url, l.token, { cols: 120, rows: 30, resumeFrom: at });
          const tag = `back-${round}`;
          l.term.type(`echo ${tag.replace('-', "''-")}\r`);
          await l.term.waitForText(`${tag}\r\n`, 30_000);
        }));
        await sleep(2000);
      }
      await sleep(5000);
    });

    await measure(`idle (${idleS} s connected, nothing typed)`, () => sleep(idleS * 1000));

    await measure('end (DELETE each session until its namespace is gone, then 10 s settling)', async () => {
      await Promise.all(learners.map(async (l) => {
        l.term.close();
        l.channel.close();
        const res = await fetch(`${server.url}/api/sessions/${l.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${l.token}` } });
        if (!res.ok) throw new Error(`ending ${l.id}: ${res.status}`);
      }));
      await until('the driver to have destroyed every box', () => calls.destroy >= n, 60_000);
      while (destroying.size > 0) await Promise.all([...destroying]);
      await sleep(10_000);
    });
    learners.length = 0;

    // What it adds up to, per session.
    const byName = (prefix: string) => phases.find((p) => p.name.startsWith(prefix))!;
    const steady = byName('steady');
    const idle = byName('idle');
    const execKey = 'CONNECT pods/exec';
    const steadyExecs = steady.delta.get(execKey) ?? 0;
    const idleExecs = idle.delta.get(execKey) ?? 0;
    console.log('\n  exec per check (steady phase): ' +
      `${steadyExecs.toFixed(0)} execs for ${steady.calls.runScript} checks (runScript) and ${steady.calls.writableBytes} disk polls (writableBytes) ` +
      `=> ${((steadyExecs - steady.calls.writableBytes) / Math.max(1, steady.calls.runScript)).toFixed(2)} exec per check`);
    console.log(`  checks per step passed (steady phase): ${steady.calls.runScript} checks for ${stepsPassed} steps = ${(steady.calls.runScript / Math.max(1, stepsPassed)).toFixed(1)} ` +
      `(every prompt runs the current step's check, and a pass the next one's); ${(steady.calls.runScript / n / (steady.seconds / 60)).toFixed(1)} checks per learner per minute`);
    console.log(`  idle phase: ${idleExecs.toFixed(0)} execs for ${idle.calls.writableBytes} disk polls, ${idle.calls.runScript} checks`);
    console.log('  per session, summary:');
    for (const p of phases) {
      console.log(`    ${p.name.split(' ')[0]!.padEnd(10)} ${(sum(p.delta) / n).toFixed(1).padStart(7)} requests per session over ${p.seconds.toFixed(0)} s` +
        ` (${(sum(p.delta) / n / (p.seconds / 60)).toFixed(1)} per session per minute)`);
    }
    console.log('  per session, split by who asked (cluster components by their own counters; the gateway is what is left):');
    for (const p of phases) {
      const cluster = sum(p.components);
      console.log(`    ${p.name.split(' ')[0]!.padEnd(10)} gateway ${((sum(p.delta) - cluster) / n).toFixed(1).padStart(6)}, cluster components ${(cluster / n).toFixed(1).padStart(6)} ` +
        `(${[...p.components].map(([k, v]) => `${k} ${(v / n).toFixed(1)}`).join(', ')})`);
    }
    console.log(`  whole run ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    for (const l of learners) { l.term.close(); l.channel.close(); }
    await srv?.stop().catch(() => {});
    await cluster.stop();
  }
}

function top(c: Counts, k: number): Array<[string, number]> {
  return [...c].filter(([, v]) => v > 0.5).sort((a, b) => b[1] - a[1]).slice(0, k);
}

function report(p: Phase, n: number, longRunning: Counts): void {
  const total = sum(p.delta);
  const perMin = p.seconds / 60;
  console.log(`\n  ${p.name}: ${p.seconds.toFixed(1)} s`);
  console.log(`    API requests, background subtracted: ${total.toFixed(0)} total, ${(total / n).toFixed(1)} per session, ` +
    `${(total / n / perMin).toFixed(1)} per session per minute (${(total / p.seconds).toFixed(2)}/s for ${n} sessions)`);
  const cluster = sum(p.components);
  console.log(`    by who asked: gateway ${((total - cluster) / n).toFixed(1)} per session, cluster components ${(cluster / n).toFixed(1)} ` +
    `(${[...p.components].map(([k, v]) => `${k} ${(v / n).toFixed(1)}`).join(', ')})`);
  console.log(`    gateway driver calls: ${Object.entries(p.calls).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`);
  const open = [...longRunning].filter(([k, v]) => v > 0 && k.includes('exec'));
  if (open.length) console.log(`    long-running requests open at its end: ${open.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log('    top verb/resource (per session):');
  for (const [k, v] of top(p.delta, 10)) console.log(`      ${k.padEnd(44)} ${v.toFixed(0).padStart(6)}  ${(v / n).toFixed(1).padStart(6)}/session`);
}
