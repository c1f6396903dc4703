// The Docker engine that runs the sandboxes: find it, check it is safe to use, or start our own.
//
// Safety rests on the engine's user-namespace remapping (a box's root is an unprivileged host
// uid) and on host firewall rules that keep session bridges away from the host's own ports.
// Both are checked or installed here, before any box is made.
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, statfsSync, ftruncateSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { loadConfig, type EngineSettings } from '../config.js';
import { ensureQuotaMode, quotaMode } from './btrfs-quota.js';
import { execFileOffLoop } from './exec-off-loop.js';

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
  /** The server (replica) that made it: sweeps of leftovers spare live replicas' (server/store/replica-leases.ts). */
  replica: 'termlab.replica',
} as const;

/** Linux bridge names of session networks start with this; the host firewall keys on it. */
export const BRIDGE_PREFIX = 'tl-';
/** Bridges of sessions without internet ('tl-i…'; with internet: 'tl-e…'). */
export const BRIDGE_PREFIX_INTERNAL = 'tl-i';
export const BRIDGE_PREFIX_INTERNET = 'tl-e';

/** Chains termlab owns in the host's iptables/ip6tables (rebuilt at start when they differ). */
export const FIREWALL_CHAIN_INPUT = 'TERMLAB-INPUT';
export const FIREWALL_CHAIN_FORWARD = 'TERMLAB-FORWARD';

export interface EngineOptions {
  /** Engine socket; default: env TERMLAB_DOCKER_SOCKET, else /var/run/docker.sock. */
  socketPath?: string;
  /** Where dockerd.log (and the image caches) live. */
  stateDir: string;
  log: (line: string) => void;
  /** Where our own engine keeps its filesystem, and the unsafe overrides; default: from the environment (config.ts). */
  settings?: EngineSettings;
}

/** What the engine in use can enforce; boxes.ts and the driver adapt to it. */
export interface EngineFacts {
  /** Root in a box is an unprivileged host uid. Without it only shell boxes are served. */
  remapped: boolean;
  /** The storage driver caps each box's writable layer (btrfs qgroups): a full disk is ENOSPC in
   * that box, counted by the kernel, deleted-but-open files included. */
  diskQuota: boolean;
  driver: string;
  /** The engine has termlab's runc without per-container session keyrings (KEYRINGLESS_RUNTIME). */
  keyringless: boolean;
  /** The engine has termlab's gVisor runtimes (RUNSC_RUNTIME and RUNSC_DIND_RUNTIME). */
  runsc: boolean;
  /** The engine's own id: servers sharing one engine can reach each other's boxes. */
  id: string;
}

/**
 * The runtime name under which termlab's own engine runs boxes: runc with --no-new-keyring.
 * Why: runc gives every container a session keyring, owned by the box's host uid, which is the
 * same for every box under remapping: each box could list the others' keyrings (with their
 * container ids) in /proc/keys, and every start spends one key of a quota all boxes share.
 */
export const KEYRINGLESS_RUNTIME = 'termlab-runc';

/** Inserts --no-new-keyring into runc's create and run commands. */
const KEYRINGLESS_WRAPPER = `#!/bin/sh
# Written by termlab (server/sandbox/engine.ts): runc whose containers get no session keyring.
for a in "$@"; do
  shift; set -- "$@" "$a"
  if [ "$a" = create ] || [ "$a" = run ]; then set -- "$@" --no-new-keyring; fi
done
exec runc "$@"
`;

/**
 * The runtime names under which termlab's own engine runs boxes in gVisor (TERMLAB_RUNTIME=runsc):
 * runsc for shell boxes, and runsc --net-raw for docker boxes (an inner dockerd needs raw
 * sockets). `--add-runtime` takes only a path, so each is a wrapper script that adds the flags
 * and runs the runsc that server/sandbox/runsc.ts installs at <engine dir>/bin/runsc.
 */
export const RUNSC_RUNTIME = 'termlab-runsc';
export const RUNSC_DIND_RUNTIME = 'termlab-runsc-dind';

/**
 * Writes the runsc wrappers into binDir (when their text differs), returning --add-runtime flags.
 * Flags: --oci-seccomp makes the sentry enforce the box's seccomp profile (Docker's default for
 * shell boxes, seccomp.ts's for docker boxes) on the learner's processes, as the host kernel does
 * under runc; runsc ignores it otherwise. Rewritten by ensureRunsc too: a change needs no engine restart.
 */
export function writeRunscWrappers(binDir: string): string[] {
  mkdirSync(binDir, { recursive: true });
  return ([[RUNSC_RUNTIME, ['--oci-seccomp']], [RUNSC_DIND_RUNTIME, ['--oci-seccomp', '--net-raw']]] as const).flatMap(([name, flags]) => {
    const file = path.join(binDir, name);
    const text = runscWrapper(binDir, [...flags]);
    if (!existsSync(file) || readFileSync(file, 'utf8') !== text) writeFileSync(file, text, { mode: 0o755 });
    return ['--add-runtime', `${name}=${file}`];
  });
}

/** A wrapper running <bin>/runsc with extra global flags (before runsc's subcommand). */
function runscWrapper(binDir: string, flags: string[]): string {
  const runsc = path.join(binDir, 'runsc');
  return `#!/bin/sh
# Written by termlab (server/sandbox/engine.ts): gVisor's runsc${flags.length ? ` with ${flags.join(' ')}` : ''}.
[ -x ${runsc} ] || { echo "termlab: gVisor's runsc is not installed at ${runsc}: run TERMLAB_RUNTIME=runsc node --import tsx scripts/prepare.ts" >&2; exit 1; }
exec ${runsc}${flags.map((f) => ` ${f}`).join('')} "$@"
`;
}

/** Reads the facts of an engine (one info call). */
export async function engineFacts(docker: Docker): Promise<EngineFacts> {
  const info = (await docker.info()) as { ID?: string; SecurityOptions?: string[]; Driver?: string; Runtimes?: Record<string, unknown> };
  return {
    remapped: (info.SecurityOptions ?? []).some((o) => o.split(',').includes('name=userns')),
    diskQuota: info.Driver === 'btrfs',
    driver: info.Driver ?? '?',
    keyringless: KEYRINGLESS_RUNTIME in (info.Runtimes ?? {}),
    runsc: RUNSC_RUNTIME in (info.Runtimes ?? {}) && RUNSC_DIND_RUNTIME in (info.Runtimes ?? {}),
    id: info.ID ?? '',
  };
}

/** The socket ensureEngine would use for these options (the pty shell needs it too). */
export function resolveSocketPath(socketPath?: string): string {
  return socketPath ?? loadConfig().dockerSocket;
}

/**
 * Returns a client for a user-namespace-remapped engine, starting one if none answers, and
 * installs the host firewall rules for session bridges. Throws with advice when the engine that
 * answers is not remapped or cannot cap a box's disk (overrides in EngineSettings, loudly logged).
 */
export async function ensureEngine(opts: EngineOptions): Promise<Docker> {
  const socketPath = resolveSocketPath(opts.socketPath);
  const settings = opts.settings ?? loadConfig().engine;
  const { log } = opts;
  mkdirSync(opts.stateDir, { recursive: true });

  if (!(await answers(socketPath))) {
    await startEngine(socketPath, opts.stateDir, settings, log);
  }
  const docker = new Docker({ socketPath });
  const info = (await docker.info()) as { ServerVersion?: string };
  const facts = await engineFacts(docker);
  const bar = '!'.repeat(78);
  const warn = (lines: string[]): void => { for (const line of [bar, ...lines.map((l) => `termlab: WARNING: ${l}`), bar]) log(line); };
  if (!facts.remapped) {
    if (!settings.allowUnremapped) {
      throw new Error(
        `The Docker engine at ${socketPath} runs without user-namespace remapping, so root in a ` +
        'sandbox would be root on this host. Either stop that engine so termlab can start its own, ' +
        'or restart it with --userns-remap=default (or "userns-remap": "default" in ' +
        '/etc/docker/daemon.json), or point TERMLAB_DOCKER_SOCKET at a remapped engine. ' +
        '(TERMLAB_ALLOW_UNREMAPPED=1 serves shell labs only on such an engine: unsafe, for trusted users only.)');
    }
    warn([`the engine at ${socketPath} runs WITHOUT user-namespace remapping.`,
      'root in a box would be root on this host: the docker and kubernetes profiles are refused,',
      'shell labs are served only because TERMLAB_ALLOW_UNREMAPPED=1 is set.']);
  }
  if (!facts.diskQuota) {
    const what = `the engine at ${socketPath} uses the ${facts.driver} storage driver, which cannot cap a box's disk here`;
    if (!settings.allowNoDiskQuota) {
      throw new Error(`${what[0]!.toUpperCase()}${what.slice(1)} (a learner could fill this host's disk). Stop that engine so ` +
        'termlab starts its own on a btrfs filesystem (see TERMLAB_ENGINE_DIR), or start it with --storage-driver btrfs ' +
        'on a btrfs data root. (TERMLAB_ALLOW_NO_DISK_QUOTA=1 falls back to polling each box: unsafe.)');
    }
    warn([`${what};`, 'continuing because TERMLAB_ALLOW_NO_DISK_QUOTA=1: disk use is only polled, and a deleted open file escapes it.']);
  }
  if (facts.diskQuota) await ensureQuotaAccounting((info as { DockerRootDir?: string }).DockerRootDir ?? '', log);
  log(`termlab: docker engine ${info.ServerVersion ?? '?'} at ${socketPath} (${facts.driver}` +
    `${facts.remapped ? ', userns-remapped' : ''}${facts.diskQuota ? ', per-box disk quota' : ''}` +
    `${facts.keyringless ? ', no per-box keyrings' : ''}${facts.runsc ? ', gVisor runtimes' : ''})`);
  if (!facts.keyringless) {
    log(`termlab: note: the engine has no ${KEYRINGLESS_RUNTIME} runtime (termlab's own engine has it): docker and kubernetes ` +
      'boxes can list the other boxes\' session keyrings in /proc/keys. Stop the engine so termlab starts its own to remove this.');
  }
  if (settings.runtime === 'runsc' && !facts.runsc) {
    throw new Error(`TERMLAB_RUNTIME=runsc, but the Docker engine at ${socketPath} has no ${RUNSC_RUNTIME} and ` +
      `${RUNSC_DIND_RUNTIME} runtimes. If termlab started that engine before they existed, stop it (pkill -x dockerd, ` +
      'and wait until it has exited) so termlab starts it again with them. For an engine of your own, add both to ' +
      `/etc/docker/daemon.json: "runtimes": {"${RUNSC_RUNTIME}": {"path": "${path.join(settings.dir, 'bin', 'runsc')}"}, ` +
      `"${RUNSC_DIND_RUNTIME}": {"path": "${path.join(settings.dir, 'bin', 'runsc')}", "runtimeArgs": ["--net-raw"]}} ` +
      '(the runsc binary is installed there by TERMLAB_RUNTIME=runsc node --import tsx scripts/prepare.ts), and restart it.');
  }
  await installFirewall(log, settings.allowNoFirewall);
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
async function startEngine(socketPath: string, stateDir: string, settings: EngineSettings, log: (l: string) => void): Promise<void> {
  let dockerd = await which('dockerd');
  if (!dockerd) {
    await installSystemDeps('no Docker engine installed', log);
    dockerd = await which('dockerd');
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
  const dataRoot = await ensureEngineFilesystem(settings, log);
  const logFile = path.join(stateDir, 'dockerd.log');
  log(`termlab: starting dockerd --userns-remap=default --storage-driver btrfs --data-root ${dataRoot} (log: ${logFile})`);
  const fd = openSync(logFile, 'a');
  // detached => setsid(): own session and process group, so neither our exit nor a Ctrl-C in
  // our terminal reaches it; stdio goes to a file, never to pipes that would die with us.
  const wrapper = path.join(settings.dir, 'bin', 'runc-nokeyring');
  mkdirSync(path.dirname(wrapper), { recursive: true });
  writeFileSync(wrapper, KEYRINGLESS_WRAPPER, { mode: 0o755 });
  // gVisor's runtimes are always registered (unused unless TERMLAB_RUNTIME=runsc), so choosing
  // runsc later needs no engine restart; the runsc binary itself is installed by runsc.ts.
  const runscWrappers = writeRunscWrappers(path.dirname(wrapper));
  const child = spawn(dockerd, ['--userns-remap=default', '-H', `unix://${socketPath}`,
    '--data-root', dataRoot, '--storage-driver', 'btrfs', '--add-runtime', `${KEYRINGLESS_RUNTIME}=${wrapper}`, ...runscWrappers], {
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

/**
 * The engine's own filesystem: a btrfs in a sparse file (<dir>/engine.btrfs), loop-mounted at
 * <dir>/docker. Why: this host's ext4 has no project quota and its kernel no XFS quota, so
 * overlay2 cannot cap a box's writable layer, and a polled size misses a deleted file that is
 * still open. btrfs qgroups (the btrfs storage driver's --storage-opt size=) are counted by the
 * kernel as blocks are written; and the file's size caps everything the engine stores, so boxes
 * can never fill the disk that holds the database and the recordings. Made once; later starts
 * mount it again if needed.
 */
async function ensureEngineFilesystem(settings: EngineSettings, log: (l: string) => void): Promise<string> {
  const image = path.join(settings.dir, 'engine.btrfs');
  const mountPoint = path.join(settings.dir, 'docker');
  mkdirSync(mountPoint, { recursive: true });
  // No box lives on it while the engine is stopped: the one time its quota mode may change.
  if (mountedFsType(mountPoint) === 'btrfs') {
    await ensureQuotaMode(mountPoint, log);
    return mountPoint;
  }
  if (!existsSync(image)) {
    if (!(await which('mkfs.btrfs'))) await installSystemDeps('mkfs.btrfs is missing', log);
    if (!(await which('mkfs.btrfs'))) {
      throw new Error('mkfs.btrfs is missing: install btrfs-progs (scripts/system-deps.sh server does it on Debian)');
    }
    const free = (() => { const s = statfsSync(settings.dir); return s.bavail * s.bsize; })();
    const gib = 1024 ** 3;
    const sizeGb = settings.diskGb ?? Math.max(16, Math.min(200, Math.floor((free * 0.6) / gib)));
    if (sizeGb * gib > free) {
      log(`termlab: WARNING: the engine's filesystem may grow to ${sizeGb} GiB but ${settings.dir} has ${(free / gib).toFixed(1)} GiB free`);
    }
    log(`termlab: making the engine's filesystem: ${image} (btrfs, up to ${sizeGb} GiB, sparse; TERMLAB_ENGINE_DISK_GB sets it)`);
    const fd = openSync(`${image}.new`, 'w');
    try { ftruncateSync(fd, sizeGb * gib); } finally { closeSync(fd); }
    await runLogged('mkfs.btrfs', ['-q', '-f', `${image}.new`], log);
    await runLogged('mv', [`${image}.new`, image], log);
  }
  // discard: space freed in the engine is given back to the host's disk (the file stays sparse).
  await runLogged('mount', ['-o', 'loop,discard', image, mountPoint], log);
  if (mountedFsType(mountPoint) !== 'btrfs') throw new Error(`mounting ${image} at ${mountPoint} did not give a btrfs filesystem`);
  // Before any data: accounting that starts with the filesystem is consistent from the first
  // byte. Simple quotas where the kernel has them (btrfs-quota.ts says why).
  await ensureQuotaMode(mountPoint, log);
  return mountPoint;
}

/**
 * btrfs enforces a qgroup limit only while its accounting is consistent: quotas switched on
 * after data was written (the engine's driver does so at its first sized box) leave it
 * "inconsistent" until a rescan, and a box then writes past its cap (measured: 300 MiB into a
 * 218 MiB cap). So quotas are switched on here, and a rescan is run whenever it is needed.
 */
async function ensureQuotaAccounting(root: string, log: (l: string) => void): Promise<void> {
  if (!root || !existsSync(root)) return;
  // Simple quotas are never inconsistent (and refuse a rescan).
  if (await quotaMode(root) === 'squota') return;
  const qgroups = async (): Promise<string> => {
    const r = await execFileP('btrfs', ['qgroup', 'show', root]).catch((e: { stdout?: string; stderr?: string }) => e);
    return `${r.stdout ?? ''}${r.stderr ?? ''}`;
  };
  let shown = await qgroups();
  if (/quotas not enabled|not enabled/i.test(shown)) {
    await execFileP('btrfs', ['quota', 'enable', root]);
    shown = await qgroups();
  }
  if (/inconsistent|rescan/i.test(shown)) {
    log('termlab: rescanning btrfs quota accounting of the engine (once; boxes are capped only when it is consistent)');
    await execFileP('btrfs', ['quota', 'rescan', '-w', root]);
  }
}

/** The filesystem type mounted exactly at dir, if any (last mount wins, as in the kernel). */
function mountedFsType(dir: string): string | undefined {
  let type: string | undefined;
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[1] === dir) type = f[2];
  }
  return type;
}

/** Installs the server's Debian packages (scripts/system-deps.sh server) when we are root on Debian. */
async function installSystemDeps(why: string, log: (l: string) => void): Promise<void> {
  const script = fileURLToPath(new URL('../../scripts/system-deps.sh', import.meta.url));
  if (process.getuid?.() !== 0 || !existsSync('/etc/debian_version') || !existsSync(script)) return;
  log(`termlab: ${why}; installing Debian packages (scripts/system-deps.sh server)`);
  await runLogged('bash', [script, 'server'], log);
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
 * Throws when the rules cannot be installed (not root), unless allowMissing (TERMLAB_ALLOW_NO_FIREWALL=1).
 */
export async function installFirewall(log: (l: string) => void, allowMissing = false): Promise<void> {
  const resolvers = readResolvers();
  const failed: string[] = [];
  for (const { bin, priv, v6 } of FAMILIES) {
    const ok = await firewallFamily(bin, [...priv], resolvers.filter((r) => r.includes(':') === v6));
    if (!ok) failed.push(bin);
  }
  if (failed.length === 0) {
    log(`termlab: host firewall for ${BRIDGE_PREFIX}* bridges in place (${FIREWALL_CHAIN_INPUT}, ${FIREWALL_CHAIN_FORWARD})`);
    return;
  }
  const msg = `could not install the host firewall rules isolating session bridges (${failed.join(', ')}); ` +
    'boxes could reach ports on this host. Run termlab as root (with iptables installed).';
  if (allowMissing) {
    log(`termlab: WARNING: ${msg} Continuing because TERMLAB_ALLOW_NO_FIREWALL=1.`);
    return;
  }
  throw new Error(`termlab: ${msg} (TERMLAB_ALLOW_NO_FIREWALL=1 overrides: unsafe.)`);
}

/** The rules of termlab's chains for one address family. */
function firewallRules(priv: string[], resolvers: string[]): Record<string, string[][]> {
  const ifaces = `${BRIDGE_PREFIX}+`;
  return {
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
}

const FAMILIES = [
  { bin: 'iptables', priv: PRIVATE_V4, v6: false },
  { bin: 'ip6tables', priv: PRIVATE_V6, v6: true },
] as const;

/**
 * True when both families' chains hold exactly termlab's rules and are hooked in: the sweeper asks.
 * Checking each rule is ~40 runs of iptables (~160 ms of CPU, felt in every learner's echo every
 * sweep), so a full check that passes records termlab's lines of `iptables -S` as iptables itself
 * prints them; later checks list each family once and compare. Anything different gets the full check.
 */
export async function firewallIntact(): Promise<boolean> {
  // The host's resolvers are part of the rules: a changed resolv.conf needs the full check.
  const listing = [readResolvers().join(' '), ...await Promise.all(FAMILIES.map(({ bin }) => ourFirewallLines(bin)))];
  if (verifiedFirewall && listing.every((l, i) => l !== undefined && l === verifiedFirewall![i])) return true;
  const intact = await firewallIntactRuleByRule();
  verifiedFirewall = intact && listing.every((l) => l !== undefined) ? listing as string[] : undefined;
  return intact;
}

/** The resolvers and each family's termlab lines of `iptables -S` at the last full check that passed. */
let verifiedFirewall: string[] | undefined;

/** termlab's chains and the rules that jump to them, as `iptables -S` prints them (undefined: it failed). */
async function ourFirewallLines(bin: string): Promise<string | undefined> {
  try {
    const { stdout } = await execFileOffLoop(bin, ['-w', '-S']);
    const ours = [FIREWALL_CHAIN_INPUT, FIREWALL_CHAIN_FORWARD];
    return stdout.split('\n').filter((l) => ours.some((c) => l.split(' ').includes(c))).join('\n');
  } catch {
    return undefined;
  }
}

async function firewallIntactRuleByRule(): Promise<boolean> {
  const resolvers = readResolvers();
  for (const { bin, priv, v6 } of FAMILIES) {
    const rules = firewallRules([...priv], resolvers.filter((r) => r.includes(':') === v6));
    const forwardParent = (await ipt(bin, ['-L', 'DOCKER-USER', '-n'])) ? 'DOCKER-USER' : 'FORWARD';
    for (const [chain, parent] of [[FIREWALL_CHAIN_INPUT, 'INPUT'], [FIREWALL_CHAIN_FORWARD, forwardParent]] as const) {
      if (!(await chainIs(bin, chain, rules[chain]!))) return false;
      if (!(await ipt(bin, ['-C', parent, '-i', `${BRIDGE_PREFIX}+`, '-j', chain]))) return false;
    }
  }
  return true;
}

async function firewallFamily(bin: string, priv: string[], resolvers: string[]): Promise<boolean> {
  const ifaces = `${BRIDGE_PREFIX}+`;
  const wanted = firewallRules(priv, resolvers);
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
    const { stdout } = await execFileOffLoop(bin, ['-w', '-S', chain]);
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
