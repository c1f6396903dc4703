// Probes that need the real lab server: the host's ports from a box, input and resize floods into
// a terminal, and another learner's keystroke echo while one box does its worst.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { networkInterfaces } from 'node:os';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type { LabServer } from '../../server/lab-server.js';
import { execInBox } from '../../server/sandbox/boxes.js';
import { echoRoundTrips, intoCat, leaveCat, percentile } from '../helpers/echo.js';
import { createSession } from '../helpers/lab-server.js';
import { ProtocolClient } from '../helpers/protocol-client.js';
import { mib, type ProbeResult } from './probe.js';

const execFileP = promisify(execFile);
const FLOOD_CLIENT = fileURLToPath(new URL('./flood-client.ts', import.meta.url));

/** The server's box for a session (first host). */
function boxOf(server: LabServer, id: string): string {
  const s = server.sessions.byId(id);
  if (!s) throw new Error(`no session ${id}`);
  return s.box.id;
}

/**
 * From a box: the lab server's port, the engine's TCP ports and ssh, on the bridge gateway and on
 * every other address of the host (the server listens on all of them here, as behind a proxy).
 * Held when none answers.
 */
export async function hostPorts(server: LabServer, lab = 'hello'): Promise<ProbeResult> {
  const port = Number(new URL(server.url).port);
  const { id, token } = await createSession(server, lab);
  try {
    const ips = Object.values(networkInterfaces()).flat().filter((a) => a && a.family === 'IPv4' && !a.internal).map((a) => a!.address);
    const out = await execInBox(server.driver.docker, boxOf(server, id), ['bash', '-c', `
      gw=$(ip route | awk '/default/ {print $3}'); [ -n "$gw" ] || gw=$(ip -4 addr show eth0 | awk '/inet / {split($2,a,"/"); split(a[1],o,"."); print o[1]"."o[2]"."o[3]".1"}')
      for t in $gw:${port} $gw:2375 $gw:2376 $gw:22 ${ips.map((ip) => `${ip}:${port}`).join(' ')}; do
        timeout 2 bash -c "</dev/tcp/\${t%:*}/\${t#*:}" 2>/dev/null && echo "OPEN $t" || echo "closed $t"
      done`], { timeoutMs: 60_000 });
    const open = out.stdout.split('\n').filter((l) => l.startsWith('OPEN ')).map((l) => l.slice(5));
    const tried = out.stdout.split('\n').filter((l) => /^(OPEN|closed) /.test(l)).length;
    void token;
    return { name: "the host's ports from a box", held: open.length === 0 && tried > 0, effect: open.length ? `reached ${open.join(', ')}` : `${tried} host ports tried, none reached` };
  } finally {
    await fetch(`${server.url}/api/sessions/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  }
}

/** Removes termlab's INPUT hook for session bridges: the weakened setting of hostPorts (the
 * sweeper, or installFirewall, puts it back). */
export async function removeInputFirewall(): Promise<void> {
  await execFileP('iptables', ['-w', '-D', 'INPUT', '-i', 'tl-+', '-j', 'TERMLAB-INPUT']);
}

async function waitPrompt(c: ProtocolClient): Promise<void> {
  await c.waitForText(/[#$] $/, 30_000);
}

/**
 * Input flood: a page types 8 MiB into a shell that does not read it (`sleep`). Held when what the
 * server holds for the shell stays bounded (the rest waits unread in the client's own socket, or
 * is refused), the learner is told of anything dropped, and the event loop stays free.
 */
export async function inputFlood(server: LabServer): Promise<ProbeResult> {
  const { id, token } = await createSession(server, 'hello');
  const c = await ProtocolClient.open(server.url, token);
  try {
    await waitPrompt(c);
    c.type('sleep 600\r');
    await c.waitForText('sleep 600\r\n');
    const rss0 = process.memoryUsage().rss;
    const chunk = 'x'.repeat(16 * 1024);
    let sent = 0;
    const stream = server.sessions.byId(id)!.existingTerminals()[0]!;
    let maxPending = 0;
    const sampler = setInterval(() => { maxPending = Math.max(maxPending, stream.pendingInput); }, 5);
    // In bursts below the message rate limit, so it is the input bound that is tested.
    for (let burst = 0; burst < 32; burst++) {
      for (let i = 0; i < 16; i++) { c.type(chunk); sent += chunk.length; }
      await new Promise((r) => setTimeout(r, 60));
    }
    // Wait until the terminal's output (the tty echoing what it took) has stopped, then look at
    // the event loop over a second in which the shell is stuck: it must not spin on the full pty.
    for (let last = -1; last !== c.offset;) {
      last = c.offset;
      await new Promise((r) => setTimeout(r, 500));
    }
    const elu1 = performance.eventLoopUtilization();
    await new Promise((r) => setTimeout(r, 1000));
    const busy = performance.eventLoopUtilization(performance.eventLoopUtilization(), elu1).utilization;
    // Sampled until here: held back in the socket, the flood reaches the shell over seconds.
    clearInterval(sampler);
    const grew = process.memoryUsage().rss - rss0;
    const dropped = stream.inputDropped;
    const told = c.errors().some((e) => e.code === 'input-dropped');
    // The bound is what matters: what the server holds for this shell (the RSS figure includes
    // this test's own client, in the same process, so it is reported, not judged).
    const held = (dropped === 0 || told) && maxPending <= 512 * 1024 && busy < 0.5;
    return {
      name: 'input flood into a shell that does not read', held,
      effect: `sent ${mib(sent)}, dropped ${mib(dropped)}${told ? ' (learner told)' : ''}; held for the shell at most ${mib(maxPending)}; ` +
        `process RSS ${grew >= 0 ? '+' : ''}${mib(grew)} (client included); event loop busy ${(busy * 100).toFixed(0)}% while stuck`,
    };
  } finally {
    c.close();
    await fetch(`${server.url}/api/sessions/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  }
}

/** Resize flood: 3000 resizes as fast as the socket takes them. Held when few reach the shell. */
export async function resizeFlood(server: LabServer): Promise<ProbeResult> {
  const { id, token } = await createSession(server, 'hello');
  const c = await ProtocolClient.open(server.url, token);
  try {
    await waitPrompt(c);
    const stream = server.sessions.byId(id)!.existingTerminals()[0]!;
    let applied = 0;
    const off = stream.onResize(() => applied++);
    const t0 = performance.now();
    for (let i = 0; i < 1500; i++) {
      c.send({ type: 'resize', cols: 80 + (i % 40), rows: 24 + (i % 10) });
      if (i % 500 === 499) await new Promise((r) => setTimeout(r, 1000)); // stay under the message rate limit
    }
    // The last one always lands (the latest size wins).
    await c.waitFor('last size', () => stream.size.cols === 80 + (1499 % 40) && stream.size.rows === 24 + (1499 % 10), 5000).catch(() => {});
    const ms = performance.now() - t0;
    off();
    const last = stream.size.cols === 80 + (1499 % 40) && stream.size.rows === 24 + (1499 % 10);
    return {
      name: 'resize flood', held: applied < 150 && last,
      effect: `1500 resizes in ${(ms / 1000).toFixed(1)} s, ${applied} applied${last ? ', the last one included' : ', the last one LOST'}`,
    };
  } finally {
    c.close();
    await fetch(`${server.url}/api/sessions/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  }
}

/** p99 of one client's keystroke echo, typing into `cat` as a fast typist does (ms). */
async function echoP99(c: ProtocolClient, keystrokes: number): Promise<number> {
  await intoCat([c]);
  const times = await echoRoundTrips([c], keystrokes, 20);
  await leaveCat([c]);
  return percentile(times, 99);
}

/**
 * Another learner's echo while one box does its worst at once: an output flood through its
 * terminal, an input flood into a shell that does not read, a resize flood and a fork bomb.
 * Held when the victim's terminal stays responsive; the ratio to quiet is reported (see below).
 */
export interface Attack { forkBomb: boolean; output: boolean; input: boolean; resize: boolean }
const WORST: Attack = { forkBomb: true, output: true, input: true, resize: true };

/** Keystrokes typed while an attack begins (its onset: the flood's first bursts, a fork bomb filling its pids). */
const ONSET_KEYS = 100;
/** Keystrokes measured once it runs (and before it, quiet). */
const STEADY_KEYS = 300;

export interface AttackEcho extends ProbeResult { quiet: number; onset: number; steady: number }

/** A hostile page in its own process at the lowest priority (flood-client.ts); resolves once it floods. */
export async function startFlood(url: string, token: string, what: Array<'output' | 'input' | 'resize'>): Promise<ChildProcess> {
  const proc = spawn('nice', ['-n', '19', process.execPath, '--import', 'tsx', FLOOD_CLIENT, url, token, what.join(',')], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      proc.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('flooding')) resolve(); });
      proc.once('exit', (code) => reject(new Error(`the flood client exited (${code})`)));
    });
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return proc;
}

export async function echoUnderAttack(server: LabServer, attack: Attack = WORST): Promise<AttackEcho> {
  const victim = await createSession(server, 'hello');
  const attacker = await createSession(server, 'hello');
  const v = await ProtocolClient.open(server.url, victim.token);
  let flooder: ChildProcess | undefined;
  try {
    await waitPrompt(v);
    await echoP99(v, ONSET_KEYS); // warms the victim's own path up
    const quiet = await echoP99(v, STEADY_KEYS);
    if (attack.forkBomb) {
      await execInBox(server.driver.docker, boxOf(server, attacker.id), ['bash', '-c',
        'nohup bash -c \'b(){ b|b& }; b\' >/dev/null 2>&1 & echo started'], { timeoutMs: 10_000 });
    }
    const what = (['output', 'input', 'resize'] as const).filter((k) => attack[k]);
    if (what.length) {
      // The attacker's page runs in its own process at the lowest priority: it stands for a
      // browser on another machine, so its own work must not take this machine's CPU from the server.
      flooder = await startFlood(server.url, attacker.token, what);
    }
    const onset = await echoP99(v, ONSET_KEYS);
    const steady = await echoP99(v, STEADY_KEYS);
    // The issue's 2x target is about the steady state and is measured by `npm run bench -- --only
    // attack` over several rounds (docs/security.md): one round's p99 on a shared 2-core machine
    // is too noisy to judge in a test. Here the probe judges that the victim's terminal stays
    // responsive throughout (within 250 ms of quiet), the onset included.
    const held = Math.max(onset, steady) <= quiet + 250;
    return {
      name: "another learner's echo during the worst", held, quiet, onset, steady,
      effect: `victim echo p99 quiet ${quiet.toFixed(2)} ms; during ${[attack.forkBomb ? 'fork bomb' : '', ...what].filter(Boolean).join(' + ')}: ` +
        `first ${ONSET_KEYS} keys ${onset.toFixed(2)} ms, then ${steady.toFixed(2)} ms (${(steady / quiet).toFixed(2)}x)`,
    };
  } finally {
    flooder?.kill('SIGKILL');
    v.close();
    for (const s of [victim, attacker]) {
      await fetch(`${server.url}/api/sessions/${s.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${s.token}` } });
    }
  }
}

/**
 * IPv6 re-enabled from inside a docker box (it may write its own network sysctls): the box then
 * looks for any other IPv6 neighbour on its bridge and tries the server's port there. Held when
 * nothing answers. `weaken` turns IPv6 on for the host's side of the bridge and takes the
 * ip6tables hook away, so the host answers.
 */
export async function ipv6ToHost(server: LabServer, weaken = false): Promise<ProbeResult> {
  const port = Number(new URL(server.url).port);
  const { id, token } = await createSession(server, 'hello-docker');
  const box = server.sessions.byId(id)!.box.id;
  const docker = server.driver.docker;
  const net = Object.values((await docker.getContainer(box).inspect()).NetworkSettings.Networks)[0]!;
  const bridge = ((await docker.getNetwork(net.NetworkID).inspect()) as { Options?: Record<string, string> }).Options?.['com.docker.network.bridge.name'] ?? '';
  try {
    if (weaken) {
      await execFileP('sysctl', ['-qw', `net.ipv6.conf.${bridge}.disable_ipv6=0`]);
      await execFileP('ip6tables', ['-w', '-D', 'INPUT', '-i', 'tl-+', '-j', 'TERMLAB-INPUT']);
      // The host's side answers only once its link-local address has passed duplicate detection.
      for (let i = 0; i < 100; i++) {
        const { stdout } = await execFileP('ip', ['-6', 'addr', 'show', 'dev', bridge]);
        if (/scope link/.test(stdout) && !/tentative/.test(stdout)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const out = await execInBox(docker, box, ['bash', '-c', `
      sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.eth0.disable_ipv6=0 && echo "re-enabled"
      for i in $(seq 50); do ip -6 addr show dev eth0 | grep 'scope link' | grep -vq tentative && break; sleep 0.1; done
      self=$(ip -6 addr show dev eth0 | awk '/scope link/ {split($2,a,"/"); print a[1]}')
      for i in 1 2 3; do ping -6 -c1 -W1 ff02::1%eth0 >/dev/null 2>&1; done
      for p in $(ip -6 neigh show dev eth0 | awk '{print $1}' | sort -u) $(ping -6 -c2 -W1 ff02::1%eth0 2>/dev/null | awk '/bytes from/ {sub(/%.*/,"",$4); sub(/:$/,"",$4); print $4}' | sort -u); do
        [ "$p" = "$self" ] && continue
        nc -6 -z -w2 "$p%eth0" ${port} 2>/dev/null && echo "OPEN [$p]:${port}" || echo "closed [$p]"
      done`], { timeoutMs: 60_000 });
    const open = out.stdout.split('\n').filter((l) => l.startsWith('OPEN '));
    const reEnabled = out.stdout.includes('re-enabled');
    const peers = out.stdout.split('\n').filter((l) => /^(OPEN|closed) /.test(l)).length;
    return {
      name: 'IPv6 re-enabled from a docker box', held: open.length === 0,
      effect: `${reEnabled ? 're-enabled IPv6 in the box' : 'could not re-enable IPv6'}; ${peers} IPv6 neighbours found; ${open.length ? `reached ${open.map((l) => l.slice(5)).join(', ')}` : "the host's port not reached"}`,
    };
  } finally {
    if (weaken) await execFileP('sysctl', ['-qw', `net.ipv6.conf.${bridge}.disable_ipv6=1`]).catch(() => {});
    await fetch(`${server.url}/api/sessions/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  }
}
