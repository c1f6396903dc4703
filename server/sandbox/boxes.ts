// Boxes: one container per learner terminal target, on a network of its own session.
//
// What contains a box (the learner is root inside and may be hostile):
// - the engine's user-namespace remapping (engine.ts): box root is an unprivileged host uid;
// - cgroup limits: memory (swap equal: no swap), pids, cpus; disk: tmpfs with size= where the
//   inner runtimes write (/tmp, /var/lib/docker...), and the writable layer capped by the engine's
//   storage driver (btrfs qgroups, see engine.ts), enforced by the kernel as blocks are written;
// - docker and kubernetes boxes: a seccomp profile (seccomp.ts) refusing kernel keys, nested
//   user namespaces and the syscalls their runtimes do not need;
// - one bridge per session (tl-*), --internal unless internet is allowed; the host firewall
//   (engine.ts) keeps every tl-* bridge away from the host's own ports;
// - never the host's docker socket; no-new-privileges; bounded container logs.
import { createHash, randomBytes } from 'node:crypto';
import { chownSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { BRIDGE_PREFIX_INTERNAL, BRIDGE_PREFIX_INTERNET, KEYRINGLESS_RUNTIME, LABEL, RUNSC_DIND_RUNTIME, RUNSC_RUNTIME } from './engine.js';
import type { Profile } from './images.js';
import { limitCountsImage } from './btrfs-quota.js';
import { runscBoxSeccomp, runtimeBoxSeccomp } from './seccomp.js';

export interface BoxLimits {
  /** RAM in MiB; swap is set equal (none). Tmpfs contents count against it; in the docker
   * profile that includes /var/lib/docker (inner images and containers): give it room. */
  memoryMb: number;
  /** Max processes+threads. The docker profile's inner engines need ~100 (>= 256 advised). */
  pids: number;
  /** CPU time as a number of CPUs (0.5 = half a core). */
  cpus: number;
  /** Size of the tmpfs at /var/lib/docker (docker profile; capped at memoryMb - 256, as its
   * pages are memory); /tmp gets a quarter of it. Writes elsewhere land in the writable
   * layer: see boxWritableBytes(). */
  diskMb: number;
}

export interface BoxSpec {
  /** This lab server instance; everything it creates carries it (removeLeftovers sweeps by it). */
  instance: string;
  /** The server among the instance's replicas that makes the box (a label; removeLeftovers can spare it). */
  replica?: string;
  session: string;
  profile: Profile;
  /** Image ref from ensureImages() for this profile. */
  image: string;
  /** Hostname inside the box; also its DNS alias on the session network. Default: profile-based. */
  hostname?: string;
  limits: BoxLimits;
  /** Outbound internet for the session's network (all boxes of a session must agree). */
  internet: boolean;
  /** Cap the writable layer at limits.diskMb through the engine (default true; false only for an
   * engine that cannot, see engineFacts().diskQuota, where the sweeper polls instead). */
  diskQuota?: boolean;
  /** Run under KEYRINGLESS_RUNTIME (engine.ts) when the engine has it (engineFacts().keyringless). */
  keyringless?: boolean;
  /** OCI runtime (config: TERMLAB_RUNTIME): 'runsc' runs shell and docker boxes in gVisor (engine.ts:
   * RUNSC_RUNTIME, RUNSC_DIND_RUNTIME; the engine must have them, engineFacts().runsc). Default 'runc'. */
  runtime?: 'runc' | 'runsc';
  /** Session networks are /24s of this IPv4 CIDR (config: TERMLAB_SUBNET_POOL); default DEFAULT_SUBNET_POOL. */
  subnetPool?: string;
  /** Only the security battery's tests set this: a box deliberately made weaker, to show that each
   * probe detects what it looks for. Never reachable from configuration. */
  weaken?: Weakening;
}

export interface Weakening {
  /** Root in the box is root on the host, with every capability and no seccomp or masked paths
   * (what an engine without user-namespace remapping would give a docker box). */
  hostRoot?: boolean;
  /** No seccomp profile for a docker/kubernetes box. */
  noSeccomp?: boolean;
  /** /proc and /sys entries that leak the host are not masked. */
  noMasks?: boolean;
}

export interface Box {
  id: string;
  name: string;
  networkId: string;
  networkName: string;
  profile: Profile;
  session: string;
  instance: string;
  hostname: string;
  /** The box's address on its session network. */
  ip: string;
}

/**
 * The host pids limit of a gVisor box whose learner may run `pids` processes and threads: gVisor's
 * own host tasks (sentry, gofer, stubs) live in the box's cgroup, ~25 when idle plus ~2 per guest
 * process (systrap stub process and thread), measured in /tmp/tl/gvisor-report.md. Reaching it
 * kills the whole box (not one process, as under runc). gVisor itself does not show the limit inside.
 */
export function runscPidsLimit(pids: number): number {
  return 25 + 2 * pids;
}

/** Why the kubernetes profile is refused under gVisor (see README.md). */
export const KUBERNETES_NEEDS_RUNC = 'the kubernetes profile runs only with TERMLAB_RUNTIME=runc ' +
  '(under gVisor its kubelet and kube-proxy cannot work: see the runtime notes in README.md)';

/** Names go into container/network names and labels; keep them to a safe alphabet. */
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
const READY_LINE = 'termlab-box: ready';
const FAILED_LINE = 'termlab-box: FAILED';
/** Sequences unlikely to be typed: docker's default (ctrl-p,ctrl-q) would swallow bash's Ctrl-P. */
export const DETACH_KEYS = 'ctrl-],ctrl-]';

/** Session networks are carved from this pool (one /24 each) so the engine's default pools
 * (about 30 networks) do not cap the number of sessions. TERMLAB_SUBNET_POOL overrides. */
export const DEFAULT_SUBNET_POOL = '10.213.0.0/16';

/**
 * Creates (or joins) the session network and a started box on it; resolves when the box is
 * ready (docker profile: its inner engine answers and busybox/web are loaded; kubernetes:
 * the node is Ready and the default service account exists). On failure
 * nothing of this box is left behind.
 */
export function createBox(docker: Docker, spec: BoxSpec): Promise<Box> {
  return createBoxOnce(docker, spec, true);
}

async function createBoxOnce(docker: Docker, spec: BoxSpec, retry: boolean): Promise<Box> {
  for (const [k, v] of [['instance', spec.instance], ['session', spec.session]] as const) {
    if (!NAME_RE.test(v)) throw new Error(`createBox: ${k} "${v}" must match ${NAME_RE}`);
  }
  const hostname = spec.hostname ?? ({ shell: 'box', docker: 'docker-box', kubernetes: 'kube-box' } as const)[spec.profile];
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(hostname)) throw new Error(`createBox: bad hostname "${hostname}"`);
  const { memoryMb, pids, cpus, diskMb } = spec.limits;
  if (!(memoryMb >= 16 && pids >= 16 && cpus > 0 && diskMb >= 16)) throw new Error('createBox: limits too small or missing');
  const gvisor = spec.runtime === 'runsc';
  if (gvisor && spec.profile === 'kubernetes') throw new Error(`createBox: ${KUBERNETES_NEEDS_RUNC}`);

  const owner: Record<string, string> = spec.replica ? { [LABEL.replica]: spec.replica } : {};
  const net = await ensureSessionNetwork(docker, spec.instance, spec.session, spec.internet, spec.subnetPool ?? DEFAULT_SUBNET_POOL, owner);
  const name = `tl-${spec.instance}-${spec.session}-${randomBytes(3).toString('hex')}`;
  const isDocker = spec.profile === 'docker';
  const isKube = spec.profile === 'kubernetes';
  // Both run their own container runtime: privileged settings plus the cgroup hand-over.
  const privileged = isDocker || isKube;
  const tmpfs: Record<string, string> = {
    '/tmp': `rw,exec,nosuid,nodev,mode=1777,size=${Math.max(8, Math.floor(diskMb / 4))}m`,
  };
  // tmpfs pages count against the box's memory and cannot be swapped out: leave the inner
  // engines room, so a full disk shows up as ENOSPC rather than as the OOM killer.
  if (isDocker) tmpfs['/var/lib/docker'] = `rw,exec,nosuid,nodev,mode=711,size=${Math.min(diskMb, Math.max(64, memoryMb - 256))}m`;
  if (isKube) {
    // The control plane and kubelet take ~500 MiB of RSS: leave them that, and give the rest to
    // images + container layers (containerd), the etcd data (~120 MB: WAL preallocation) and
    // the kubelet's pod volumes. The sizes are caps; only what is written uses memory.
    tmpfs['/var/lib/containerd'] = `rw,exec,nosuid,nodev,mode=711,size=${Math.min(diskMb, Math.max(128, memoryMb - 640))}m`;
    tmpfs['/var/lib/etcd'] = `rw,nosuid,nodev,mode=700,size=${Math.min(256, Math.max(192, Math.floor(diskMb / 4)))}m`;
    tmpfs['/var/lib/kubelet'] = `rw,exec,nosuid,nodev,mode=711,size=${Math.min(256, Math.max(64, Math.floor(diskMb / 8)))}m`;
  }

  // CgroupnsMode is missing from @types/dockerode's HostConfig (API >= 1.41 has it).
  const hostConfig: Docker.HostConfig & { CgroupnsMode: 'private' } = {
    Init: true, // docker-init (tini) as PID 1 reaps whatever the learner orphans
    Memory: memoryMb * 1024 * 1024,
    MemorySwap: memoryMb * 1024 * 1024,
    NanoCpus: Math.round(cpus * 1e9),
    // Under contention the lab server, its shells' clients and the engine come first (1024 each,
    // the default): a box spinning at its CPU limit must not slow every other learner's echo.
    CpuShares: 256,
    PidsLimit: gvisor ? runscPidsLimit(pids) : pids,
    OomScoreAdj: 500, // under memory pressure the kernel picks boxes before the lab server
    NetworkMode: net.name,
    Tmpfs: tmpfs,
    // A root learner can write to PID 1's stdout; don't let that fill the host's disk.
    LogConfig: { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '1' } },
    CgroupnsMode: 'private',
    // IPv6 link-local would give another path to the host; the shell profile cannot undo this.
    Sysctls: { 'net.ipv6.conf.all.disable_ipv6': '1', 'net.ipv6.conf.default.disable_ipv6': '1' },
    RestartPolicy: { Name: 'no' },
    ...(spec.keyringless ? { Runtime: KEYRINGLESS_RUNTIME } : {}),
    // gVisor: no host keyrings either (keys are the sentry's); docker boxes get --net-raw.
    ...(gvisor ? { Runtime: isDocker ? RUNSC_DIND_RUNTIME : RUNSC_RUNTIME } : {}),
    // The writable layer's cap, counted by the kernel (deleted-but-open files included). Full
    // qgroups count the image's blocks that the box shares too, so the cap is then the image plus
    // diskMb; simple quotas count the box's own writes (btrfs-quota.ts).
    ...(spec.diskQuota !== false ? { StorageOpt: { size: `${diskMb + (await limitCountsImage(docker) ? await imageSizeMb(docker, spec.image) : 0)}M` } } : {}),
    // Docker's DNS answers session names but never external ones on an --internal network;
    // without this, every lookup of an outside name hangs 10-20 s before failing.
    ...(spec.internet ? {} : { DnsOptions: ['timeout:1', 'attempts:1'] }),
    ...(privileged
      ? {
        // Measured in docker-here.md: what an inner dockerd needs (--privileged fails here).
        CapAdd: ['ALL'],
        CapDrop: ['SYS_RESOURCE'],
        SecurityOpt: [`seccomp=${runtimeBoxSeccomp()}`, 'apparmor=unconfined', 'no-new-privileges'],
        // = --security-opt systempaths=unconfined (a CLI flag; the API takes the empty lists)
        MaskedPaths: [],
        ReadonlyPaths: [],
      }
      : { SecurityOpt: ['no-new-privileges'] }),
    // gVisor: the sentry applies this profile (engine.ts: --oci-seccomp), see runscBoxSeccomp().
    ...(gvisor ? { SecurityOpt: [`seccomp=${runscBoxSeccomp()}`, 'apparmor=unconfined', 'no-new-privileges'] } : {}),
    ...weakened(spec.weaken, privileged),
  };
  let container: Docker.Container | undefined;
  try {
    container = await docker.createContainer({
      name,
      Image: spec.image,
      Hostname: hostname,
      Labels: {
        [LABEL.instance]: spec.instance, [LABEL.session]: spec.session,
        [LABEL.role]: 'box', [LABEL.profile]: spec.profile, [LABEL.hostname]: hostname, ...owner,
      },
      HostConfig: hostConfig,
      NetworkingConfig: { EndpointsConfig: { [net.name]: { Aliases: [hostname] } } },
    });
    await container.start();
    const info = await container.inspect();
    if (privileged) {
      // Under gVisor the box's cgroups are the sentry's own (virtual): nothing to hand over.
      if (!gvisor) handOverCgroups(info.State.Pid);
      await waitForReady(docker, container.id, isKube ? 180_000 : 120_000);
    } else if (!info.State.Running) {
      throw new Error(`box ${name} stopped right after start (exit ${info.State.ExitCode})`);
    }
    const ep = info.NetworkSettings.Networks[net.name];
    return {
      id: container.id, name, networkId: net.id, networkName: net.name, profile: spec.profile,
      session: spec.session, instance: spec.instance, hostname, ip: ep?.IPAddress ?? '',
    };
  } catch (err) {
    await container?.remove({ force: true, v: true }).catch(() => {});
    // The session's last box was destroyed (and its network with it) while we joined: again.
    const e = err as { statusCode?: number; message?: string };
    if (retry && !container && e.statusCode === 404 && /network/i.test(e.message ?? '')) {
      return createBoxOnce(docker, spec, false);
    }
    await removeNetworkIfUnused(docker, net.id);
    throw err;
  }
}

/** HostConfig overrides for a deliberately weakened box (see BoxSpec.weaken). */
function weakened(w: Weakening | undefined, privileged: boolean): Partial<Docker.HostConfig> & { UsernsMode?: string } {
  if (!w) return {};
  const seccomp = privileged ? `seccomp=${runtimeBoxSeccomp()}` : undefined;
  const out: Partial<Docker.HostConfig> & { UsernsMode?: string } = {};
  if (w.noMasks || w.hostRoot) Object.assign(out, { MaskedPaths: [], ReadonlyPaths: [] });
  if (w.noSeccomp || w.hostRoot) out.SecurityOpt = ['seccomp=unconfined', 'apparmor=unconfined'];
  else if (w.noMasks && seccomp) out.SecurityOpt = [seccomp, 'apparmor=unconfined'];
  else if (w.noMasks) out.SecurityOpt = ['apparmor=unconfined'];
  if (w.hostRoot) Object.assign(out, { UsernsMode: 'host', CapAdd: ['ALL'], CapDrop: ['SYS_RESOURCE'] });
  return out;
}

const imageSizes = new Map<string, number>();

/** An image's size in MiB (rounded up), asked of the engine once per image. */
async function imageSizeMb(docker: Docker, image: string): Promise<number> {
  let mb = imageSizes.get(image);
  if (mb === undefined) {
    mb = Math.ceil(((await docker.getImage(image).inspect()).Size ?? 0) / 2 ** 20);
    imageSizes.set(image, mb);
  }
  return mb;
}

/** Removes the box (and its session network once no box uses it). Missing objects are fine. */
export async function destroyBox(docker: Docker, box: Pick<Box, 'id' | 'networkId'>): Promise<void> {
  await docker.getContainer(box.id).remove({ force: true, v: true }).catch(ignore404);
  await removeNetworkIfUnused(docker, box.networkId);
}

/** Boxes of an instance (running or not), e.g. to re-attach or sweep after a restart. */
export async function listBoxes(docker: Docker, instance: string): Promise<Box[]> {
  const list = await docker.listContainers({
    all: true, filters: { label: [`${LABEL.instance}=${instance}`, `${LABEL.role}=box`] },
  });
  return list.map((c) => {
    const [networkName, ep] = Object.entries(c.NetworkSettings?.Networks ?? {})[0] ?? ['', undefined];
    return {
      id: c.Id, name: (c.Names[0] ?? '').replace(/^\//, ''), networkId: ep?.NetworkID ?? '', networkName,
      profile: (c.Labels[LABEL.profile] ?? 'shell') as Profile, session: c.Labels[LABEL.session] ?? '',
      instance, hostname: c.Labels[LABEL.hostname] ?? '', ip: ep?.IPAddress ?? '',
    };
  });
}

/**
 * Removes every container, network and volume labelled with this instance (a crashed or
 * restarted server's boxes, or a test's), except those of the replicas in `spare` (live servers
 * sharing the instance) and of the sessions in `spareSessions` (adopted by a live replica from
 * one that is gone). Returns how many of each went.
 */
export async function removeLeftovers(docker: Docker, instance: string, log: (l: string) => void, spare: ReadonlySet<string> = new Set(),
  spareSessions: ReadonlySet<string> = new Set()): Promise<{ containers: number; networks: number; volumes: number }> {
  const filters = { label: [`${LABEL.instance}=${instance}`] };
  const gone = <T extends { Labels?: Record<string, string> | null }>(list: T[]): T[] =>
    list.filter((o) => !spare.has(o.Labels?.[LABEL.replica] ?? '') && !spareSessions.has(o.Labels?.[LABEL.session] ?? ''));
  const counts = { containers: 0, networks: 0, volumes: 0 };
  // Containers first (in parallel: a server stopping with many boxes), then what they used.
  // A failure (say, a box created meanwhile still on a network) is logged, not thrown: the
  // rest still goes, and the next sweep gets the remainder.
  const settle = async (kind: keyof typeof counts, what: string, remove: () => Promise<unknown>): Promise<void> => {
    try {
      await remove();
      counts[kind]++;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) counts[kind]++;
      else log(`termlab: could not remove ${what}: ${(err as Error).message}`);
    }
  };
  const containers = gone(await docker.listContainers({ all: true, filters }));
  await Promise.all(containers.map((c) => settle('containers', `container ${c.Names[0] ?? c.Id}`,
    () => docker.getContainer(c.Id).remove({ force: true, v: true }))));
  const networks = gone(await docker.listNetworks({ filters }));
  await Promise.all(networks.map((n) => settle('networks', `network ${n.Name}`, () => docker.getNetwork(n.Id).remove())));
  const volumes = gone((await docker.listVolumes({ filters })).Volumes ?? []);
  await Promise.all(volumes.map((v) => settle('volumes', `volume ${v.Name}`, () => docker.getVolume(v.Name).remove({ force: true }))));
  if (counts.containers + counts.networks + counts.volumes > 0) {
    log(`termlab: removed leftovers of instance ${instance}: ${counts.containers} containers, ` +
      `${counts.networks} networks, ${counts.volumes} volumes`);
  }
  return counts;
}

/**
 * Bytes the box has written to its writable layer (the container's overlay upper dir; the
 * tmpfs mounts are bounded by their size= and not counted). Walks the layer: call it every
 * few seconds per box at most.
 */
export async function boxWritableBytes(docker: Docker, id: string): Promise<number> {
  const info = (await docker.getContainer(id).inspect({ size: true } as Docker.ContainerInspectOptions)) as { SizeRw?: number };
  return info.SizeRw ?? 0;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The command was killed at timeoutMs (exitCode is then 124, as with coreutils timeout). */
  timedOut: boolean;
}

export interface ExecOptions {
  /** Default 30 s. */
  timeoutMs?: number;
  /** Output kept per stream, in bytes (a hostile box could print forever); default 1 MiB. */
  maxBytes?: number;
  user?: string;
  env?: string[];
  workingDir?: string;
}

/** Runs a command in a box out of band (no tty), through the Engine API; for checks and tests. */
export async function execInBox(docker: Docker, id: string, cmd: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const maxBytes = opts.maxBytes ?? 1024 * 1024;
  const exec = await docker.getContainer(id).exec({
    Cmd: cmd, AttachStdout: true, AttachStderr: true, AttachStdin: false, Tty: false,
    ...(opts.user ? { User: opts.user } : {}), ...(opts.env ? { Env: opts.env } : {}),
    ...(opts.workingDir ? { WorkingDir: opts.workingDir } : {}),
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = { stdout: new Capped(maxBytes), stderr: new Capped(maxBytes) };
  let timedOut = false;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      timedOut = true;
      // Kill the command and what it started, from the host (the engine's host, as root); only
      // processes still in this box's cgroup: the exec's pid may have ended and been reused.
      exec.inspect().then((i) => { if (i.Pid) killTree(i.Pid, id); }).catch(() => {})
        .finally(() => { stream.destroy(); resolve(); });
    }, timeoutMs);
    demux(stream, (kind, chunk) => (kind === 2 ? out.stderr : out.stdout).push(chunk));
    stream.on('end', () => { clearTimeout(timer); resolve(); });
    stream.on('close', () => { clearTimeout(timer); resolve(); });
    stream.on('error', (e: Error) => { clearTimeout(timer); if (timedOut) resolve(); else reject(e); });
  });
  let exitCode = timedOut ? 124 : -1; // -1: the engine never reported an exit code
  if (!timedOut) {
    // The stream can end a moment before the engine records the exit code.
    for (let i = 0; i < 50; i++) {
      const info = await exec.inspect();
      if (!info.Running && info.ExitCode !== null) { exitCode = info.ExitCode; break; }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return { exitCode, stdout: out.stdout.text(), stderr: out.stderr.text(), timedOut };
}

/** argv for an interactive shell in a box (node-pty runs it): docker -H unix://SOCK exec -it ID CMD... */
export function execArgv(socketPath: string, id: string, cmd: string[] = ['bash', '-l']): string[] {
  return ['docker', '-H', `unix://${socketPath}`, 'exec', '-it', '--detach-keys', DETACH_KEYS,
    '-e', 'TERM=xterm-256color', id, ...cmd];
}

// ---------------------------------------------------------------------------------------------

/** SIGKILLs pid and all its descendants that belong to the container (found through /proc). */
function killTree(pid: number, containerId: string): void {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so cut after the last ')'.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch { /* exited meanwhile */ }
  }
  const all: number[] = [];
  const walk = (p: number): void => { all.push(p); (children.get(p) ?? []).forEach(walk); };
  walk(pid);
  for (const p of all) {
    // Checked right before the kill: a process of another box (or the host) is never touched.
    try { if (readFileSync(`/proc/${p}/cgroup`, 'utf8').includes(containerId)) process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  }
}

class Capped {
  private parts: Buffer[] = [];
  private size = 0;
  constructor(private readonly max: number) {}
  push(b: Buffer): void {
    if (this.size >= this.max) return;
    const take = b.subarray(0, this.max - this.size);
    this.parts.push(take);
    this.size += take.length;
  }
  text(): string { return Buffer.concat(this.parts).toString('utf8'); }
}

/** Splits the engine's multiplexed stdout/stderr stream (8-byte frame headers) into chunks. */
function demux(stream: NodeJS.ReadableStream, onChunk: (kind: number, chunk: Buffer) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  stream.on('data', (data: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, data]) : data;
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      onChunk(buf[0] ?? 1, buf.subarray(8, 8 + size));
      buf = buf.subarray(8 + size);
    }
  });
}

/** Follows the box's output until the entrypoint says ready (or failed, or the box exits). */
async function waitForReady(docker: Docker, id: string, timeoutMs: number): Promise<void> {
  const stream = (await docker.getContainer(id).logs({ follow: true, stdout: true, stderr: true })) as unknown as NodeJS.ReadableStream & { destroy(): void };
  let text = '';
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer);
      stream.destroy();
      if (err) reject(err); else resolve();
    };
    const timer = setTimeout(() => done(new Error(`box not ready after ${timeoutMs / 1000} s:\n${text.slice(-2000)}`)), timeoutMs);
    demux(stream, (_kind, chunk) => {
      text += chunk.toString();
      if (text.includes(READY_LINE)) done();
      else if (text.includes(FAILED_LINE)) done(new Error(`box failed to start:\n${text.slice(-2000)}`));
    });
    stream.on('end', () => done(new Error(`box exited before it was ready:\n${text.slice(-2000)}`)));
    stream.on('error', (e: Error) => done(e));
  });
}

/**
 * Lets the box's (remapped) root make child cgroups under its own cgroup, which an inner engine
 * needs: chowns the box's folder in each v1 hierarchy, and its cgroup.procs/tasks, to the
 * remapped root. The limit files stay root's, so the box cannot raise its own limits; children
 * it makes are bounded by the parent (hierarchical accounting).
 */
function handOverCgroups(pid: number): void {
  if (process.getuid?.() !== 0) throw new Error('the docker and kubernetes profiles need the lab server to run as root (cgroup hand-over)');
  // Who the box's root is on the host, from the box's own maps ("0 100000 65536").
  const hostIdOfRoot = (file: string): number => {
    const line = readFileSync(`/proc/${pid}/${file}`, 'utf8').split('\n').map((l) => l.trim().split(/\s+/))
      .find((f) => f[0] === '0');
    return Number(line?.[1] ?? NaN);
  };
  const uid = hostIdOfRoot('uid_map');
  const gid = hostIdOfRoot('gid_map');
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`cannot read the uid/gid maps of pid ${pid}`);
  if (uid === 0) return; // engine without remapping (TERMLAB_ALLOW_UNREMAPPED): root owns them already
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[2] === 'cgroup')
    .map((f) => ({ dir: f[1] ?? '', opts: new Set((f[3] ?? '').split(',')) }));
  let handed = 0;
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n')) {
    const [hid, ctrls, rel] = line.split(':');
    if (hid === '0' || !ctrls || !rel || rel === '/') continue;
    const mount = mounts.find((m) => ctrls.split(',').every((c) => m.opts.has(c)));
    if (!mount) continue;
    const dir = path.join(mount.dir, rel);
    for (const p of [dir, path.join(dir, 'cgroup.procs'), path.join(dir, 'tasks')]) {
      if (existsSync(p)) chownSync(p, uid, gid);
    }
    handed++;
  }
  if (handed === 0) throw new Error(`no cgroup v1 folders found for pid ${pid}`);
}

interface SessionNet { id: string; name: string }

/** The session's network: found by labels, else created with a free /24 from the pool. */
async function ensureSessionNetwork(docker: Docker, instance: string, session: string, internet: boolean, subnetPool: string,
  owner: Record<string, string>): Promise<SessionNet> {
  const name = `tl-${instance}-${session}`;
  // Linux caps interface names at 15 characters: tl-i/tl-e plus 11 hex of the network name.
  const bridge = (internet ? BRIDGE_PREFIX_INTERNET : BRIDGE_PREFIX_INTERNAL) +
    createHash('sha256').update(name).digest('hex').slice(0, 11);
  let lastErr: unknown;
  for (let attempt = 0; attempt < 8; attempt++) {
    const found = await docker.listNetworks({
      filters: { label: [`${LABEL.instance}=${instance}`, `${LABEL.session}=${session}`] },
    });
    const existing = found.find((n) => n.Name === name);
    if (existing) {
      if (existing.Labels?.[LABEL.internet] !== String(internet)) {
        throw new Error(`session ${session} already has a network with internet=${existing.Labels?.[LABEL.internet]}`);
      }
      return { id: existing.Id, name };
    }
    const subnet = await freeSubnet(docker, subnetPool, attempt);
    try {
      const net = await docker.createNetwork({
        Name: name, Driver: 'bridge', CheckDuplicate: true, Internal: !internet, EnableIPv6: false,
        IPAM: { Driver: 'default', Config: [{ Subnet: subnet }] },
        Options: {
          'com.docker.network.bridge.name': bridge,
          'com.docker.network.bridge.enable_icc': 'true',
          'com.docker.network.bridge.enable_ip_masquerade': String(internet),
        },
        Labels: {
          [LABEL.instance]: instance, [LABEL.session]: session,
          [LABEL.role]: 'network', [LABEL.internet]: String(internet), ...owner,
        },
      });
      return { id: net.id, name };
    } catch (err) {
      lastErr = err; // raced with another box of this session, or another process took the subnet
    } finally {
      claimedSubnets.delete(subnet);
    }
  }
  throw new Error(`could not create network ${name}: ${(lastErr as Error)?.message}`);
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

function cidrRange(cidr: string): [number, number] | null {
  const [ip, bits] = cidr.split('/');
  if (!ip || !bits || ip.includes(':')) return null;
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(ipToInt(ip) / size) * size;
  return [start, start + size - 1];
}

/**
 * Subnets this process is creating networks on right now: they are not in the engine's list yet,
 * and many sessions starting at once (a workshop's warm-up, a class pressing Start together)
 * would otherwise all pick the same first free /24 and all but one fail.
 */
const claimedSubnets = new Set<string>();

/** Claims a /24 from the pool overlapping no existing or claimed network; `skip` moves past ones lost to races. */
async function freeSubnet(docker: Docker, subnetPool: string, skip: number): Promise<string> {
  const pool = cidrRange(subnetPool);
  if (!pool) throw new Error(`TERMLAB_SUBNET_POOL must be an IPv4 CIDR such as ${DEFAULT_SUBNET_POOL}, not "${subnetPool}"`);
  const used = (await docker.listNetworks())
    .flatMap((n) => n.IPAM?.Config ?? [])
    .map((c) => cidrRange(c.Subnet ?? ''))
    .filter((r): r is [number, number] => r !== null);
  let skipped = 0;
  for (let start = pool[0]; start + 255 <= pool[1]; start += 256) {
    if (used.some(([a, b]) => a <= start + 255 && start <= b)) continue;
    const subnet = `${[start >>> 24, (start >>> 16) & 255, (start >>> 8) & 255, 0].join('.')}/24`;
    if (claimedSubnets.has(subnet)) continue;
    if (skipped++ < skip) continue;
    claimedSubnets.add(subnet); // the caller lets go of it once its network exists (or failed)
    return subnet;
  }
  throw new Error(`no free /24 left in ${subnetPool} (TERMLAB_SUBNET_POOL): end some sessions or give a larger pool`);
}

async function removeNetworkIfUnused(docker: Docker, networkId: string): Promise<void> {
  if (!networkId) return;
  try {
    const info = (await docker.getNetwork(networkId).inspect()) as { Containers?: Record<string, unknown> };
    if (Object.keys(info.Containers ?? {}).length === 0) await docker.getNetwork(networkId).remove();
  } catch {
    // gone already, or a box joined meanwhile (the engine refuses: "has active endpoints")
  }
}

function ignore404(err: unknown): void {
  if ((err as { statusCode?: number }).statusCode !== 404) throw err;
}
