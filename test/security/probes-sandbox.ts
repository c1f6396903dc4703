// Probes run inside real boxes, as root, as a hostile learner's shell would: kernel keys, disk,
// /proc leaks, the classic container escapes, and reaching other boxes. Each takes the weakening
// its test uses to show that it fails where the defence is missing.
import { readFileSync, statSync } from 'node:fs';
import type Docker from 'dockerode';
import { createBox, destroyBox, execInBox, type Box, type BoxLimits, type Weakening } from '../../server/sandbox/boxes.js';
import { engineFacts, remappedRoot } from '../../server/sandbox/engine.js';
import type { Profile } from '../../server/sandbox/images.js';
import { uniqueInstance } from '../server/sandbox/helpers.js';
import { mib, type ProbeResult } from './probe.js';

export interface SandboxEnv { docker: Docker; images: Record<Profile, string> }

export type ProbeProfile = 'shell' | 'docker' | 'kubernetes';

export const LIMITS: Record<ProbeProfile, BoxLimits> = {
  shell: { memoryMb: 256, pids: 128, cpus: 0.5, diskMb: 64 },
  docker: { memoryMb: 1024, pids: 512, cpus: 1, diskMb: 512 },
  kubernetes: { memoryMb: 1536, pids: 1024, cpus: 1.5, diskMb: 1024 },
};

export interface BoxOptions { weaken?: Weakening; diskQuota?: boolean; keyrings?: boolean; session?: string; instance?: string; runtime?: 'runc' | 'runsc' }

/** The OCI runtime of every probe's boxes unless BoxOptions.runtime says otherwise (runsc.test.ts sets 'runsc'). */
export const probeDefaults: { runtime?: 'runc' | 'runsc' } = {};

/** A box for one probe, removed afterwards whatever happens. */
export async function withBox<T>(env: SandboxEnv, profile: ProbeProfile, opts: BoxOptions, fn: (box: Box) => Promise<T>): Promise<T> {
  const box = await createBox(env.docker, {
    instance: opts.instance ?? uniqueInstance('sec'), session: opts.session ?? 's', profile, image: env.images[profile],
    limits: LIMITS[profile], internet: false, diskQuota: opts.diskQuota, weaken: opts.weaken,
    keyringless: !opts.keyrings && (await engineFacts(env.docker)).keyringless,
    runtime: opts.runtime ?? probeDefaults.runtime,
  });
  try {
    return await fn(box);
  } finally {
    await destroyBox(env.docker, box);
  }
}

async function run(env: SandboxEnv, box: Box, script: string, timeoutMs = 60_000): Promise<string> {
  const r = await execInBox(env.docker, box.id, ['bash', '-c', script], { timeoutMs });
  return `${r.stdout}${r.stderr}`;
}

/** Kernel keys held on the host by the uid that root in a box maps to (/proc/key-users). */
function hostKeys(uid: number): number {
  const line = readFileSync('/proc/key-users', 'utf8').split('\n').find((l) => l.trim().startsWith(`${uid}:`));
  // "  100000:     2 2/2 2/200 140/20000": the fourth field is keys used / quota.
  return Number(line?.trim().split(/\s+/)[3]?.split('/')[0] ?? 0);
}

/**
 * Kernel keys are one quota for every box (one host uid under remapping): a docker box adds keys
 * directly (add_key) and through inner `docker run`s. Held when the box takes almost none.
 */
export async function kernelKeys(env: SandboxEnv, weaken?: Weakening, profile: 'docker' | 'kubernetes' = 'docker'): Promise<ProbeResult> {
  const uid = remappedRoot().uid;
  // The kubernetes box's own pods (CoreDNS, the control plane's) were started by its containerd
  // before `before` is read; its inner runs are those pods, so only add_key is tried there.
  const inner = profile === 'docker'
    ? 'ok=0; for i in 1 2 3 4 5; do docker run -d busybox sleep 900 >/dev/null && ok=$((ok+1)); done; echo "inner containers started: $ok of 5"'
    : '';
  return withBox(env, profile, { weaken }, async (box) => {
    const before = hostKeys(uid);
    const out = await run(env, box, `
      perl -e 'for $i (1..25) { my ($t, $d, $p) = ("user", "termlab-probe-$i", "x"); syscall(248, $t, $d, $p, 1, -3) == -1 and do { print "add_key refused: $!\\n"; exit } } print "add_key: 25 keys added\\n"'
      ${inner}`);
    const taken = hostKeys(uid) - before;
    const summary = out.trim().split('\n').filter((l) => /add_key|inner/.test(l)).join('; ');
    return { name: `kernel keys from a ${profile} box`, held: out.includes('add_key refused') && taken < 10, effect: `host keys of uid ${uid}: +${taken}; ${summary}` };
  });
}

/**
 * Disk: a file deleted while still open is invisible to a polled size, so it must be the kernel
 * that counts. Held when the writes stop near the box's limit and the box still works.
 */
export async function deletedFileDisk(env: SandboxEnv, diskQuota = true): Promise<ProbeResult> {
  const limit = LIMITS.shell.diskMb * 2 ** 20;
  const ask = 4 * limit;
  return withBox(env, 'shell', { diskQuota }, async (box) => {
    const out = await run(env, box, `exec 3>/root/f; rm /root/f; head -c ${ask} /dev/zero >&3 2>/tmp/err; echo "written=$(stat -L -c %s /dev/fd/3)"; cat /tmp/err; exec 3>&-; echo alive`);
    const written = Number(/written=(\d+)/.exec(out)?.[1] ?? NaN);
    const quotaMsg = /quota exceeded|No space left/i.test(out);
    const held = written <= limit + 16 * 2 ** 20 && /alive/.test(out);
    return {
      name: 'disk: deleted-but-open file', held,
      effect: `asked ${mib(ask)}, wrote ${mib(written)} against a ${mib(limit)} limit${quotaMsg ? ' ("Disk quota exceeded")' : ''}; box alive: ${/alive/.test(out)}`,
    };
  });
}

/**
 * /proc entries that show other tenants: the host's tasks (timer_list, sched_debug) and other
 * boxes' kernel keys. A box with CAP_SYS_ADMIN in its namespace first unmounts any mask, as a
 * learner would. Held when none shows anything.
 */
export async function procLeaks(env: SandboxEnv, profile: ProbeProfile, weaken?: Weakening & { keyrings?: boolean }): Promise<ProbeResult> {
  const files = ['/proc/timer_list', '/proc/sched_debug', '/proc/keys'];
  // Another tenant to be seen: a second box, made the same way.
  return withBox(env, profile, { weaken, keyrings: weaken?.keyrings }, (other) => withBox(env, profile, { weaken, keyrings: weaken?.keyrings }, async (box) => {
    const others = `grep -c -E '<|cpu|_ses[.]${other.id}'`;
    const out = await run(env, box, files.map((f) => `umount ${f} 2>/dev/null; echo "${f}=$(head -c 65536 ${f} 2>/dev/null | ${others})"`).join('; '));
    const readable = files.filter((f) => Number(new RegExp(`${f}=(\\d+)`).exec(out)?.[1] ?? 0) > 0);
    return { name: `/proc leaks (${profile})`, held: readable.length === 0, effect: readable.length ? `another tenant seen in: ${readable.join(', ')}` : `nothing of the host or another box in ${files.join(', ')}` };
  }));
}

/**
 * The classic escapes, each written to be harmless if it works (a value written back unchanged,
 * sysrq's help, a read of one sector). Held when every one is refused.
 */
export async function classicEscapes(env: SandboxEnv, profile: ProbeProfile, weaken?: Weakening): Promise<ProbeResult> {
  const dev = statSync('/').dev; // the host's root filesystem device
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
  const attempts: Record<string, string> = {
    'core_pattern': 'v=$(cat /proc/sys/kernel/core_pattern) && printf "%s\\n" "$v" > /proc/sys/kernel/core_pattern',
    'modprobe path': 'v=$(cat /proc/sys/kernel/modprobe) && printf "%s\\n" "$v" > /proc/sys/kernel/modprobe',
    '/proc/sys/vm write': 'echo 1 > /proc/sys/vm/drop_caches',
    'sysrq': 'echo h > /proc/sysrq-trigger',
    'release_agent (new cgroup v1 hierarchy)': 'd=$(mktemp -d) && mount -t cgroup -o rdma none "$d" && test -e "$d/release_agent"; r=$?; umount "$d" 2>/dev/null; exit $r',
    'host disk device': `mknod /tmp/hd b ${major} ${minor} && test "$(head -c 512 /tmp/hd | wc -c)" = 512`,
    'nested user namespace': 'unshare -U true',
    'kernel module load': 'perl -e \'my $e = ""; exit(syscall(313, -1, $e, 0) == -1 && $!{EPERM} ? 1 : 0)\'',
  };
  return withBox(env, profile, { weaken }, async (box) => {
    const script = Object.entries(attempts).map(([name, cmd]) => `if ( ${cmd} ) >/dev/null 2>&1; then echo "WORKED:${name}"; fi`).join('\n');
    const out = await run(env, box, script);
    const worked = Object.keys(attempts).filter((n) => out.includes(`WORKED:${n}`));
    return {
      name: `classic escapes (${profile})`, held: worked.length === 0,
      effect: worked.length ? `worked: ${worked.join(', ')}` : `all ${Object.keys(attempts).length} refused (${Object.keys(attempts).join(', ')})`,
    };
  });
}

/**
 * Another session's box: B listens on a port, A (another session, or the same one when
 * `sameSession`, the weakened case) connects to B's address. Held when A cannot.
 */
export async function otherSessionBox(env: SandboxEnv, sameSession = false): Promise<ProbeResult> {
  const instance = uniqueInstance('sec');
  return withBox(env, 'shell', { instance, session: 'victim' }, async (b) => {
    await execInBox(env.docker, b.id, ['bash', '-c', 'nohup nc -lk 7777 >/dev/null 2>&1 &'], { timeoutMs: 5000 });
    return withBox(env, 'shell', { instance, session: sameSession ? 'victim' : 'attacker' }, async (a) => {
      // Wait until B really listens (seen from inside B), so a refusal is the network's doing.
      await run(env, b, 'for i in $(seq 100); do timeout 1 bash -c "</dev/tcp/127.0.0.1/7777" 2>/dev/null && break; sleep 0.05; done');
      const out = await run(env, a, `timeout 3 bash -c '</dev/tcp/${b.ip}/7777' && echo CONNECTED || echo refused`);
      const connected = out.includes('CONNECTED');
      return { name: "another session's box", held: !connected, effect: `${connected ? 'connected to' : 'could not reach'} ${b.ip}:7777 of another ${sameSession ? 'box of the same' : ''} session` };
    });
  });
}
