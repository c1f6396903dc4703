// `npm run bench -- --only sim`: a thousand learners at once against one real gateway process
// (server/lab-server.ts, its HTTP API, WebSockets, terminal streams, screen mirrors, session
// channels, step checks and a real PostgreSQL), with the boxes stubbed: each "box" is a folder
// and a local bash (scripts/sim/local-driver.ts), because a thousand containers do not fit one
// 2-core machine. Real: everything the gateway and the database do per learner. Stubbed: the
// container, its engine and the `docker exec` (or Kubernetes exec) each shell runs through.
// Prints the gateway's memory and CPU per learner, echo, check latency and database writes: the
// per-session costs docs/scaling.md multiplies out. Asserts nothing.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { echoOnce, intoCat, percentile } from '../test/helpers/echo.js';
import { databaseWrites, startPostgres } from '../test/helpers/postgres.js';
import { ProtocolClient } from '../test/helpers/protocol-client.js';
import { startServerProcess } from '../test/helpers/replica-process.js';

const ms = (v: number): string => `${v.toFixed(1)} ms`;
const MIB = 2 ** 20;

/** The simulation's lab: two steps whose checks look in the learner's home folder. */
export function simLab(dir: string): void {
  const lab = path.join(dir, 'sim');
  fs.mkdirSync(path.join(lab, 'steps'), { recursive: true });
  fs.writeFileSync(path.join(lab, 'lab.yaml'), 'title: Simulated\ndescription: Two steps in a home folder.\nprofile: shell\nduration: 5\ndifficulty: beginner\ntags: [sim]\n');
  fs.writeFileSync(path.join(lab, 'intro.md'), '# Simulated\n\nTwo steps.\n');
  fs.writeFileSync(path.join(lab, 'finish.md'), '# Done\n\nBoth steps.\n');
  const step = (n: number, title: string, check: string, solution: string): void => fs.writeFileSync(path.join(lab, 'steps', `0${n}-s.md`),
    `---\ntitle: ${title}\ncheck: |\n  ${check}\nsolution: |\n  ${solution}\nhints:\n  - "${solution}"\n---\nDo it:\n\n\`\`\`bash exec\n${solution}\n\`\`\`\n`);
  step(1, 'Make a file', '[ -f "$HOME/one.txt" ] || { echo "no one.txt yet"; exit 1; }', 'echo one > ~/one.txt');
  step(2, 'Make a folder', '[ -d "$HOME/two" ] || { echo "no folder two yet"; exit 1; }', 'mkdir -p ~/two');
}

function procStat(pid: number): { cpuS: number; rssMiB: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  return { cpuS: (Number(stat[11]) + Number(stat[12])) / 100, rssMiB: rss };
}

interface Learner { token: string; cookie: string; term: ProtocolClient; channel: ProtocolClient }

export async function benchSim(learners: number, typingS: number): Promise<void> {
  const pgServer = startPostgres();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-simlabs-'));
  simLab(dir);
  const databaseUrl = await pgServer.createDatabase();
  const people: Learner[] = [];
  const { url, proc } = await startServerProcess(path.join(import.meta.dirname, 'sim', 'sim-server.ts'),
    { SIM_LABS: dir, TERMLAB_DATABASE_URL: databaseUrl, TERMLAB_INSTANCE: `sim-${crypto.randomBytes(3).toString('hex')}` });
  try {
    const idle = procStat(proc.pid!);
    const t0 = performance.now();
    for (let i = 0; i < learners; i += 50) {
      people.push(...await Promise.all(Array.from({ length: Math.min(50, learners - i) }, async () => {
        const cookie = `tl_learner=${crypto.randomBytes(18).toString('base64url')}`;
        const res = await fetch(`${url}/api/sessions`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{"lab":"sim"}' });
        if (res.status !== 201) throw new Error(`starting a session: ${res.status} ${await res.text()}`);
        const { token } = (await res.json()) as { token: string };
        const term = await ProtocolClient.open(url, token, { cols: 100, rows: 30, headers: { cookie } });
        const channel = await ProtocolClient.openSession(url, token, { cookie });
        await term.waitFor('a prompt', () => term.prompts() > 0, 60_000);
        return { token, cookie, term, channel };
      })));
    }
    const startedS = (performance.now() - t0) / 1000;
    const loaded = procStat(proc.pid!);
    console.log(`simulation: ${learners} learners on one gateway process (boxes stubbed as local bash; gateway, WebSockets, mirrors, checks and PostgreSQL real)`);
    console.log(`  ${learners} sessions started and at their prompt in ${startedS.toFixed(1)} s; gateway RSS ${idle.rssMiB.toFixed(0)} MiB idle, ${loaded.rssMiB.toFixed(0)} MiB with them: ` +
      `${((loaded.rssMiB - idle.rssMiB) / learners).toFixed(2)} MiB per learner`);

    // Typing at a human rate: one key a second each, each learner at its own moment.
    const terms = people.map((p) => p.term);
    await intoCat(terms);
    const before = procStat(proc.pid!);
    const w0 = performance.now();
    const echoes: number[] = [];
    await Promise.all(terms.map(async (c, k) => {
      await new Promise((r) => setTimeout(r, (k * 1000) / terms.length));
      for (let i = 0; i < typingS; i++) {
        echoes.push(await echoOnce(c, i));
        await new Promise((r) => setTimeout(r, 1000));
      }
    }));
    const typedS = (performance.now() - w0) / 1000;
    const after = procStat(proc.pid!);
    // Out of `cat` (a thousand prompts at once take a while on two cores).
    await Promise.all(terms.map(async (c) => {
      const prompts = c.prompts();
      c.type('\x03');
      await c.waitFor('the prompt after ^C', () => c.prompts() > prompts, 120_000);
    }));
    console.log(`  typing, ${learners} learners at 1 key/s for ${typingS} s (${echoes.length} keys): echo p50 ${ms(percentile(echoes, 50))}  p99 ${ms(percentile(echoes, 99))}; ` +
      `gateway CPU ${(100 * (after.cpuS - before.cpuS) / typedS).toFixed(0)}% of a core (${(1000 * (after.cpuS - before.cpuS) / echoes.length).toFixed(2)} ms per key), RSS ${after.rssMiB.toFixed(0)} MiB`);

    // The two steps: each solution typed, then the learner waits for the step to turn green.
    const rows0 = (await databaseWrites(databaseUrl)).rows;
    const c0 = procStat(proc.pid!).cpuS;
    const s0 = performance.now();
    const greens: number[] = [];
    await Promise.all(people.map(async (p, k) => {
      // Each learner at its own moment over half a minute: about as often as people finish steps.
      await new Promise((r) => setTimeout(r, (k * 30_000) / people.length));
      for (const [cmd, n] of [['echo one > ~/one.txt', 1], ['mkdir -p ~/two', 2]] as const) {
        const g0 = performance.now();
        p.term.type(`${cmd}\r`);
        await p.channel.waitFor(`step ${n} green`, () => p.channel.stepsDone() >= n, 120_000);
        greens.push(performance.now() - g0);
      }
    }));
    const stepsS = (performance.now() - s0) / 1000;
    const cpuSteps = procStat(proc.pid!).cpuS - c0;
    // PostgreSQL reports a backend's counts when it goes idle, up to 10 s late.
    const settle = performance.now() + 11_000;
    while (performance.now() < settle) await new Promise((r) => setTimeout(r, 500));
    const rows = (await databaseWrites(databaseUrl)).rows - rows0;
    console.log(`  steps: ${greens.length} step passes in ${stepsS.toFixed(1)} s, command -> step green p50 ${ms(percentile(greens, 50))}  p99 ${ms(percentile(greens, 99))}; ` +
      `gateway CPU ${(1000 * cpuSteps / greens.length).toFixed(1)} ms per step pass (its checks included)`);
    console.log(`  PostgreSQL: ${rows} rows written for ${greens.length} step passes (${(rows / greens.length).toFixed(1)} per pass, ${(rows / stepsS).toFixed(0)} rows/s at this pace)`);
  } finally {
    for (const p of people) { p.term.close(); p.channel.close(); }
    proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode !== null ? r(null) : proc.once('exit', r)));
    pgServer.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
