// The Docker engine that runs the sandboxes: find it, check it is safe to use, or start our own.
//
// Safety rests on the engine's user-namespace remapping (a box's root is an unprivileged host
// uid) and on host firewall rules that keep session bridges away from the host's own ports.
// Both are checked or installed here, before any box is made.
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';

const execFileP = promisify(execFile);

/** Labels on everything termlab creates, so an instance can find (and sweep) its own objects. */
export const LABEL = {
  instance: 'termlab.instance',
  session: 'termlab.session',
  /** 'box' | 'network' | 'volume' */
  role: 'termlab.role',
  profile: 'termlab.profile',
  /** A box's hostname (list calls don't return it). */
  hostname: 'termlab.hostname',
  /** Whether a session network routes to the internet ('true' | 'false'). */
  internet: 'termlab.internet',
} as const;

/** Linux bridge names of session networks start with this; the host firewall keys on it. */
export const BRIDGE_PREFIX = 'tl-';
/** Bridges of sessions without internet ('tl-i…'; with internet: 'tl-e…'). */
export const BRIDGE_PREFIX_INTERNAL = 'tl-i';
export const BRIDGE_PREFIX_INTERNET = 'tl-e';

export const DEFAULT_SOCKET = '/var/run/docker.sock';

/** Chains termlab owns in the host's iptables/ip6tables (rebuilt at start when they differ). */
export const FIREWALL_CHAIN_INPUT = 'TERMLAB-INPUT';
export const FIREWALL_CHAIN_FORWARD = 'TERMLAB-FORWARD';

export interface EngineOptions {
  /** Engine socket; default: env TERMLAB_DOCKER_SOCKET, else /var/run/docker.sock. */
  socketPath?: string;
  /** Where dockerd.log (and the image caches) live. */
  stateDir: string;
  log: (line: string) => void;
}

/** The socket ensureEngine would use for these options (the pty shell needs it too). */
export function resolveSocketPath(socketPath?: string): string {
  return socketPath ?? process.env.TERMLAB_DOCKER_SOCKET ?? DEFAULT_SOCKET;
}

/**
 * Returns a client for a user-namespace-remapped engine, starting one if none answers, and
 * installs the host firewall rules for session bridges. Throws with advice when the engine that
 * answers is not remapped (override: TERMLAB_ALLOW_UNREMAPPED=1, loudly logged).
 */
export async function ensureEngine(opts: EngineOptions): Promise<Docker> {
  const socketPath = resolveSocketPath(opts.socketPath);
  const { log } = opts;
  mkdirSync(opts.stateDir, { recursive: true });

  if (!(await answers(socketPath))) {
    await startEngine(socketPath, opts.stateDir, log);
  }
  const docker = new Docker({ socketPath });
  const info = (await docker.info()) as { SecurityOptions?: string[]; ServerVersion?: string };
  const remapped = (info.SecurityOptions ?? []).some((o) => o.split(',').includes('name=userns'));
  if (!remapped) {
    if (process.env.TERMLAB_ALLOW_UNREMAPPED === '1') {
      const bar = '!'.repeat(78);
      for (const line of [bar,
        `termlab: WARNING: the engine at ${socketPath} runs WITHOUT user-namespace remapping.`,
        'termlab: WARNING: root in a box is root on this host; a hostile learner can take the host.',
        'termlab: WARNING: continuing only because TERMLAB_ALLOW_UNREMAPPED=1 is set.', bar]) log(line);
    } else {
      throw new Error(
        `The Docker engine at ${socketPath} runs without user-namespace remapping, so root in a ` +
        'sandbox would be root on this host. Either stop that engine so termlab can start its own, ' +
        'or restart it with --userns-remap=default (or "userns-remap": "default" in ' +
        '/etc/docker/daemon.json), or point TERMLAB_DOCKER_SOCKET at a remapped engine. ' +
        '(TERMLAB_ALLOW_UNREMAPPED=1 overrides this check: unsafe, for trusted users only.)');
    }
  }
  log(`termlab: docker engine ${info.ServerVersion ?? '?'} at ${socketPath}${remapped ? ' (userns-remapped)' : ''}`);
  await installFirewall(log);
  return docker;
}

/** True if an engine answers a ping on this socket within a short time. */
async function answers(socketPath: string): Promise<boolean> {
  if (!existsSync(socketPath)) return false;
  try {
    await new Docker({ socketPath, timeout: 2000 }).ping();
    return true;
  } catch {
    return false;
  }
}

async function which(cmd: string): Promise<string | null> {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin', '/usr/bin'])) {
    const p = path.join(dir, cmd);
    if (dir && existsSync(p)) return p;
  }
  return null;
}

/** Starts dockerd (installing docker.io first where we can), detached so it outlives us. */
async function startEngine(socketPath: string, stateDir: string, log: (l: string) => void): Promise<void> {
  let dockerd = await which('dockerd');
  if (!dockerd) {
    const isRoot = process.getuid?.() === 0;
    const script = fileURLToPath(new URL('../../scripts/system-deps.sh', import.meta.url));
    if (isRoot && existsSync('/etc/debian_version') && existsSync(script)) {
      log('termlab: no Docker engine installed; installing Debian packages (scripts/system-deps.sh server)');
      await runLogged('bash', [script, 'server'], log);
      dockerd = await which('dockerd');
    }
    if (!dockerd) {
      throw new Error(`No Docker engine answers at ${socketPath} and dockerd is not installed. ` +
        'Install the docker.io package (Debian/Ubuntu: apt-get install docker.io), or point ' +
        'TERMLAB_DOCKER_SOCKET at a running engine started with --userns-remap=default.');
    }
  }
  if (process.getuid?.() !== 0) {
    throw new Error(`No Docker engine answers at ${socketPath}, and starting one needs root. ` +
      `Start it as root: dockerd --userns-remap=default -H unix://${socketPath}`);
  }
  const logFile = path.join(stateDir, 'dockerd.log');
  log(`termlab: starting dockerd --userns-remap=default (log: ${logFile})`);
  const fd = openSync(logFile, 'a');
  // detached => setsid(): own session and process group, so neither our exit nor a Ctrl-C in
  // our terminal reaches it; stdio goes to a file, never to pipes that would die with us.
  const child = spawn(dockerd, ['--userns-remap=default', '-H', `unix://${socketPath}`], {
    detached: true, stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let exited: number | null | undefined;
  child.on('exit', (code) => { exited = code; });
  child.on('error', () => { exited = -1; });
  child.unref();

  const started = Date.now();
  let deadline = started + 90_000;
  let nextReport = 2000;
  for (;;) {
    if (await answers(socketPath)) {
      log(`termlab: dockerd answers after ${((Date.now() - started) / 1000).toFixed(1)} s (pid ${child.pid})`);
      return;
    }
    // Ours may have lost a race with another process starting the engine: give that one a moment.
    if (exited !== undefined) deadline = Math.min(deadline, Date.now() + 10_000);
    if (Date.now() > deadline) {
      throw new Error(`dockerd ${exited !== undefined ? `exited (code ${exited})` : 'did not answer within 90 s'}; ` +
        `last lines of ${logFile}:\n${tailOf(logFile, 15)}`);
    }
    const waited = Date.now() - started;
    if (waited >= nextReport) {
      log(`termlab: waiting for dockerd (${Math.round(waited / 1000)} s)...`);
      nextReport += 2000;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

function tailOf(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Runs a command, passing each output line to log; rejects on a non-zero exit. */
export function runLogged(cmd: string, args: string[], log: (l: string) => void,
  env?: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    const tail: string[] = [];
    const onData = (buf: Buffer): void => {
      for (const line of buf.toString().split(/\r?\n/)) {
        if (!line.trim()) continue;
        log(line);
        tail.push(line);
        if (tail.length > 10) tail.shift();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('exit', (code) => code === 0 ? resolve()
      : reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code}):\n${tail.join('\n')}`)));
  });
}

async function ipt(bin: string, args: string[]): Promise<boolean> {
  try {
    await execFileP(bin, ['-w', ...args]);
    return true;
  } catch {
    return false;
  }
}

const PRIVATE_V4 = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '100.64.0.0/10', '224.0.0.0/4'];
const PRIVATE_V6 = ['fc00::/7', 'fe80::/10', 'ff00::/8'];

/**
 * Host firewall for session bridges (named tl-*), idempotent:
 * - INPUT: a box may not open connections to the host itself (the bridge gateway of an
 *   --internal network still reaches every host port bound to 0.0.0.0, e.g. the lab server).
 * - FORWARD (via DOCKER-USER): nothing to other sessions' bridges, nothing out of sessions
 *   without internet (both rejected, so they fail fast), and for sessions with internet no
 *   private, link-local (cloud metadata) or multicast destinations except DNS to the host's
 *   own resolvers.
 * Both for IPv4 and IPv6 (boxes have link-local v6 on their bridge).
 * Throws when the rules cannot be installed (not root); TERMLAB_ALLOW_NO_FIREWALL=1 overrides.
 */
export async function installFirewall(log: (l: string) => void): Promise<void> {
  const resolvers = readResolvers();
  const families: Array<{ bin: string; priv: string[]; v6: boolean }> = [
    { bin: 'iptables', priv: PRIVATE_V4, v6: false },
    { bin: 'ip6tables', priv: PRIVATE_V6, v6: true },
  ];
  const failed: string[] = [];
  for (const { bin, priv, v6 } of families) {
    const ok = await firewallFamily(bin, priv, resolvers.filter((r) => r.includes(':') === v6));
    if (!ok) failed.push(bin);
  }
  if (failed.length === 0) {
    log(`termlab: host firewall for ${BRIDGE_PREFIX}* bridges in place (${FIREWALL_CHAIN_INPUT}, ${FIREWALL_CHAIN_FORWARD})`);
    return;
  }
  const msg = `could not install the host firewall rules isolating session bridges (${failed.join(', ')}); ` +
    'boxes could reach ports on this host. Run termlab as root (with iptables installed).';
  if (process.env.TERMLAB_ALLOW_NO_FIREWALL === '1') {
    log(`termlab: WARNING: ${msg} Continuing because TERMLAB_ALLOW_NO_FIREWALL=1.`);
    return;
  }
  throw new Error(`termlab: ${msg} (TERMLAB_ALLOW_NO_FIREWALL=1 overrides: unsafe.)`);
}

async function firewallFamily(bin: string, priv: string[], resolvers: string[]): Promise<boolean> {
  const ifaces = `${BRIDGE_PREFIX}+`;
  const wanted: Record<string, string[][]> = {
    [FIREWALL_CHAIN_INPUT]: [
      // Replies to connections the host opened into a box stay allowed.
      ['-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'RETURN'],
      // REJECT (not DROP) so a learner's curl fails at once instead of hanging.
      ['-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
      ['-j', 'REJECT'],
    ],
    [FIREWALL_CHAIN_FORWARD]: [
      // Between boxes of one session (bridged, not routed): allowed, as Docker's ICC says.
      ['-m', 'physdev', '--physdev-is-bridged', '-j', 'RETURN'],
      ['-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'RETURN'],
      // To another session's bridge (Docker drops it too; rejecting fails fast instead of hanging).
      ['-o', ifaces, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
      ['-o', ifaces, '-j', 'REJECT'],
      // Sessions without internet: nothing leaves (again fast, where Docker's --internal drops).
      ['-i', `${BRIDGE_PREFIX_INTERNAL}+`, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
      ['-i', `${BRIDGE_PREFIX_INTERNAL}+`, '-j', 'REJECT'],
      ...resolvers.flatMap((r) => ['udp', 'tcp'].map((p) => ['-d', r, '-p', p, '--dport', '53', '-j', 'RETURN'])),
      ...priv.map((net) => ['-d', net, '-j', 'REJECT']),
    ],
  };
  // Docker makes DOCKER-USER for IPv4 (for IPv6 only with its ip6tables option); else FORWARD.
  const forwardParent = (await ipt(bin, ['-L', 'DOCKER-USER', '-n'])) ? 'DOCKER-USER' : 'FORWARD';
  const parents: Record<string, string> = { [FIREWALL_CHAIN_INPUT]: 'INPUT', [FIREWALL_CHAIN_FORWARD]: forwardParent };

  for (const [chain, rules] of Object.entries(wanted)) {
    const parent = parents[chain]!;
    const hook = ['-i', ifaces, '-j', chain];
    if (await chainIs(bin, chain, rules) && await ipt(bin, ['-C', parent, ...hook])) continue;
    // Build the new chain beside the old one and switch the hook over, so the host is never
    // unprotected, not even for the moment a flush-and-refill would take.
    const next = `${chain}-NEW`;
    if (!(await ipt(bin, ['-L', next, '-n'])) && !(await ipt(bin, ['-N', next]))) return false;
    if (!(await ipt(bin, ['-F', next]))) return false;
    for (const rule of rules) if (!(await ipt(bin, ['-A', next, ...rule]))) return false;
    if (!(await ipt(bin, ['-I', parent, '1', '-i', ifaces, '-j', next]))) return false;
    for (const p of ['INPUT', 'FORWARD', 'DOCKER-USER']) {
      while (await ipt(bin, ['-D', p, ...hook])) { /* remove every old hook */ }
    }
    if (await ipt(bin, ['-L', chain, '-n'])) {
      if (!(await ipt(bin, ['-F', chain])) || !(await ipt(bin, ['-X', chain]))) return false;
    }
    if (!(await ipt(bin, ['-E', next, chain]))) return false;
  }
  return true;
}

/** True if the chain holds exactly these rules (each present, and no others). */
async function chainIs(bin: string, chain: string, rules: string[][]): Promise<boolean> {
  try {
    const { stdout } = await execFileP(bin, ['-w', '-S', chain]);
    if (stdout.trim().split('\n').filter((l) => l.startsWith('-A ')).length !== rules.length) return false;
  } catch {
    return false;
  }
  for (const rule of rules) if (!(await ipt(bin, ['-C', chain, ...rule]))) return false;
  return true;
}

/** Nameservers of the host; Docker's embedded DNS forwards to these from inside each box. */
function readResolvers(): string[] {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8').split('\n')
      .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
      .filter((x): x is string => !!x && !x.startsWith('127.') && x !== '::1')
      .map((x) => x.replace(/%.*$/, ''));
  } catch {
    return [];
  }
}

/** Host uid/gid that root inside a box maps to (from the dockremap lines of /etc/subuid, /etc/subgid). */
export function remappedRoot(user = 'dockremap'): { uid: number; gid: number } {
  const first = (file: string): number => {
    const line = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${user}:`));
    const n = Number(line?.split(':')[1]);
    if (!line || !Number.isInteger(n)) throw new Error(`no ${user} entry in ${file}: is the engine started with --userns-remap=default?`);
    return n;
  };
  return { uid: first('/etc/subuid'), gid: first('/etc/subgid') };
}
