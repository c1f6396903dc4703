// The Docker implementation of what sessions need from sandboxes (sessions/sandbox-driver.ts).
import type Docker from 'dockerode';
import type { SandboxProfile } from '../../protocol/api.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { BoxHandle, BoxRequest, SandboxDriver, ScriptResult } from '../sessions/sandbox-driver.js';
import { boxWritableBytes, createBox, destroyBox, execArgv, execInBox, KUBERNETES_NEEDS_RUNC, removeLeftovers, type Box } from './boxes.js';
import { BtrfsBoxDisk } from './box-disk.js';
import { engineFacts, ensureEngine, firewallIntact, installFirewall, resolveSocketPath, type EngineFacts } from './engine.js';
import { ensureImages } from './images.js';
import { ensureRunsc } from './runsc.js';

export interface DockerDriver extends SandboxDriver {
  readonly docker: Docker;
  readonly socketPath: string;
  readonly images: Record<SandboxProfile, string>;
  readonly facts: EngineFacts;
  removeLeftovers(): Promise<void>;
}

/** Profiles whose boxes run their own container runtime with broad privileges in their user namespace. */
const RUNTIME_PROFILES: ReadonlySet<SandboxProfile> = new Set(['docker', 'kubernetes']);

type DockerBox = BoxHandle & { box: Box };

/** The box's address on its session network (the port proxy connects there). */
export function boxAddress(handle: BoxHandle): string {
  return (handle as DockerBox).box.ip;
}

/** Engine up, leftovers of a previous run removed, images built: then boxes can be made. */
export async function createDockerDriver(config: Config, log: Logger, progress: (line: string) => void): Promise<DockerDriver> {
  const socketPath = resolveSocketPath(config.dockerSocket);
  // TERMLAB_RUNTIME=runsc: gVisor's runsc, built once (cached; scripts/prepare.ts builds it too).
  if (config.engine.runtime === 'runsc') await ensureRunsc({ stateDir: config.stateDir, engineDir: config.engine.dir, log: progress });
  const docker = await ensureEngine({ socketPath, stateDir: config.stateDir, log: progress, settings: config.engine });
  const facts = await engineFacts(docker);
  // The host firewall is what keeps boxes off the host's ports and each other: while its chains
  // are missing (a firewall reload, an operator's flush) no box is made; the sweeper restores them.
  let firewallOk = true;
  const available = (profile: SandboxProfile): string | undefined => {
    if (!facts.remapped && RUNTIME_PROFILES.has(profile)) {
      return `the ${profile} profile needs an engine with user-namespace remapping (without it, root in the box is root on the host)`;
    }
    if (profile === 'kubernetes' && config.engine.runtime === 'runsc') return KUBERNETES_NEEDS_RUNC;
    if (!firewallOk) return 'the host firewall that isolates boxes is missing; new boxes wait until it is restored';
    return undefined;
  };
  const sweepLeftovers = async () => {
    const removed = await removeLeftovers(docker, config.instance, (line) => log.info(line));
    if (removed.containers + removed.networks + removed.volumes > 0) {
      log.info({ ...removed, instance: config.instance }, 'removed what a previous run left behind');
    }
  };
  await sweepLeftovers();
  const boxDisk = facts.diskQuota ? await BtrfsBoxDisk.open(docker) : undefined;
  const images = await ensureImages(docker, { log: progress, stateDir: config.stateDir, pull: config.pull });

  return {
    docker,
    socketPath,
    images,
    facts,
    removeLeftovers: sweepLeftovers,
    enforcesDisk: facts.diskQuota,
    available,
    async checkIsolation(): Promise<void> {
      if (await firewallIntact()) { firewallOk = true; return; }
      log.error('host firewall chains for session bridges are missing or changed: refusing new boxes and reinstalling them');
      firewallOk = false;
      try {
        await installFirewall((line) => log.info(line), config.engine.allowNoFirewall);
        firewallOk = await firewallIntact();
      } catch (err) {
        log.error({ err }, 'reinstalling the host firewall failed');
      }
    },
    async create(request: BoxRequest): Promise<BoxHandle> {
      const refused = available(request.profile);
      if (refused) throw new Error(refused);
      const box = await createBox(docker, {
        instance: config.instance,
        session: request.session,
        profile: request.profile,
        image: images[request.profile],
        hostname: request.hostname,
        limits: config.limits[request.profile],
        internet: request.internet,
        diskQuota: facts.diskQuota,
        keyringless: facts.keyringless,
        runtime: config.engine.runtime,
        subnetPool: config.subnetPool,
      });
      const handle: DockerBox = { id: box.id, session: box.session, profile: box.profile, box };
      return handle;
    },
    async destroy(handle: BoxHandle): Promise<void> {
      boxDisk?.forget(handle.id);
      await destroyBox(docker, (handle as DockerBox).box);
    },
    shellArgv(handle: BoxHandle): string[] {
      return execArgv(socketPath, handle.id);
    },
    async writableBytes(handle: BoxHandle): Promise<number> {
      // The kernel's count when it keeps one (box-disk.ts: cheap, and what the cap counts),
      // expressed against the learner's quota: the cap also counts the image's shared blocks.
      const use = await boxDisk?.use(handle.id);
      if (use?.limit !== undefined) return Math.max(0, use.referenced - (use.limit - config.limits[handle.profile].diskMb * 2 ** 20));
      return boxWritableBytes(docker, handle.id);
    },
    diskQuotaBytes(profile: SandboxProfile): number {
      return config.limits[profile].diskMb * 1024 * 1024;
    },
    async runScript(handle: BoxHandle, script: string, timeoutMs: number): Promise<ScriptResult> {
      const r = await execInBox(docker, handle.id, ['bash', '-c', script], { timeoutMs, maxBytes: 64 * 1024, workingDir: '/root' });
      const output = [r.stdout.trim(), r.stderr.trim()].filter(Boolean).join('\n');
      return { exitCode: r.exitCode, output, timedOut: r.timedOut };
    },
  };
}
