// The Docker implementation of the sandbox layer's interface (sandbox-driver.ts).
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import type { SandboxProfile } from '../../protocol/api.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { BoxHandle, BoxRequest, BoxShell, SandboxDriver, ScriptResult } from './sandbox-driver.js';
import { ptyShell } from './pty-shell.js';
import { boxWritableBytes, createBox, destroyBox, execArgv, execInBox, KUBERNETES_NEEDS_RUNC, removeLeftovers, type Box } from './boxes.js';
import { BtrfsBoxDisk } from './box-disk.js';
import { engineFacts, ensureEngine, firewallIntact, installFirewall, resolveSocketPath, type EngineFacts } from './engine.js';
import { contextHash, ensureImages, IMAGE_REPO, imageExists, type ImagePhase } from './images.js';
import { ProfilePreparation, type PrepareStep } from './preparation.js';
import { ensureRunsc } from './runsc.js';

export interface DockerDriver extends SandboxDriver {
  readonly docker: Docker;
  readonly socketPath: string;
  /** Each profile's image ref; a profile prepared in the background appears when it is ready. */
  readonly images: Partial<Record<SandboxProfile, string>>;
  readonly facts: EngineFacts;
  /** State of profiles prepared after listening (GET /api/profiles). */
  readonly preparation: ProfilePreparation;
  /** Starts preparing the profiles that were not ready at start (the server calls it once it listens). */
  prepareInBackground(): void;
  /** The `docker exec -it` argv a shell of the box runs as (the bench points WeTTY at it). */
  shellArgv(box: BoxHandle): string[];
}

export interface DriverOptions {
  /**
   * Return once the shell and docker images are ready and prepare the rest when
   * prepareInBackground() is called (the server, so a first run serves the page within minutes).
   * Without it, every image is ready (or the call throws) before this returns, as scripts want.
   */
  background?: boolean;
  /** Holds these profiles behind a step of the test's own (it may call the real one): "not ready yet" without deleting an image. */
  prepare?: PrepareHold;
  /** A profile prepared in the background became ready: pools and workshops may pre-start its boxes. */
  onProfileReady?: (profile: SandboxProfile) => void;
  /** The live replicas sharing this instance (server/store/replica-leases.ts): the sweep at start leaves their boxes. */
  spareAtStart?: ReadonlySet<string>;
  /** Sessions live replicas adopted from gone ones: the sweep at start leaves them too. */
  spareSessionsAtStart?: ReadonlySet<string>;
}

/** A test's stand-in for the preparation of some profiles (see DriverOptions.prepare). */
export interface PrepareHold { profiles: readonly SandboxProfile[]; step: PrepareStep }

/**
 * Every profile's image is prepared after the server listens, in this order (docker and
 * kubernetes build FROM shell): a newcomer sees the page as soon as the engine runs, can start a
 * shell lab once the base and shell image exist (about a minute and a half on a first run), a
 * docker lab a minute later, and the Helm lab once Kubernetes is built from Go source (~10 min cold).
 */
const BACKGROUND_PROFILES: readonly SandboxProfile[] = ['shell', 'docker', 'kubernetes'];

/** Profiles whose boxes run their own container runtime with broad privileges in their user namespace. */
const RUNTIME_PROFILES: ReadonlySet<SandboxProfile> = new Set(['docker', 'kubernetes']);

type DockerBox = BoxHandle & { box: Box };

/** Engine up, leftovers of a previous run removed, images built: then boxes can be made. */
export async function createDockerDriver(config: Config, log: Logger, progress: (line: string) => void,
  options: DriverOptions = {}): Promise<DockerDriver> {
  const socketPath = resolveSocketPath(config.dockerSocket);
  // TERMLAB_RUNTIME=runsc: gVisor's runsc, built once (cached; scripts/prepare.ts builds it too).
  if (config.engine.runtime === 'runsc') await ensureRunsc({ stateDir: config.stateDir, engineDir: config.engine.dir, log: progress });
  const docker = await ensureEngine({ socketPath, stateDir: config.stateDir, log: progress, settings: config.engine });
  const facts = await engineFacts(docker);
  // The host firewall is what keeps boxes off the host's ports and each other: while its chains
  // are missing (a firewall reload, an operator's flush) no box is made; the sweeper restores them.
  let firewallOk = true;
  // Refusals that hold for this server's whole life: such a profile's image is not worth building.
  const refusedForGood = (profile: SandboxProfile): string | undefined => {
    if (!facts.remapped && RUNTIME_PROFILES.has(profile)) {
      return `the ${profile} profile needs an engine with user-namespace remapping (without it, root in the box is root on the host)`;
    }
    if (profile === 'kubernetes' && config.engine.runtime === 'runsc') return KUBERNETES_NEEDS_RUNC;
    return undefined;
  };
  const images: Partial<Record<SandboxProfile, string>> = {};
  const preparation = new ProfilePreparation(config.stateDir, log, progress, (profile, ref) => {
    images[profile] = ref;
    options.onProfileReady?.(profile);
  });
  // Pools and workshop warm-ups ask this before pre-starting a box, so they wait for a profile
  // still being prepared and begin once onProfileReady says it is there.
  const available = (profile: SandboxProfile): string | undefined => {
    const forGood = refusedForGood(profile);
    if (forGood) return forGood;
    if (!images[profile]) return preparation.refusal(profile) ?? `the ${profile} sandbox image is not available`;
    if (!firewallOk) return 'the host firewall that isolates boxes is missing; new boxes wait until it is restored';
    return undefined;
  };
  const sweepLeftovers = async (spare?: ReadonlySet<string>, spareSessions?: ReadonlySet<string>) => {
    const removed = await removeLeftovers(docker, config.instance, (line) => log.info(line), spare, spareSessions);
    if (removed.containers + removed.networks + removed.volumes > 0) {
      log.info({ ...removed, instance: config.instance }, 'removed what a previous run left behind');
    }
  };
  await sweepLeftovers(options.spareAtStart, options.spareSessionsAtStart);
  const boxDisk = facts.diskQuota ? await BtrfsBoxDisk.open(docker) : undefined;
  // Built on an earlier run: ready now, no background work (nothing built is rebuilt).
  const later: SandboxProfile[] = [];
  const shellRef = `${IMAGE_REPO.shell}:${contextHash('shell')}`;
  for (const profile of BACKGROUND_PROFILES) {
    if (refusedForGood(profile)) continue;
    const ref = profile === 'shell' ? shellRef : `${IMAGE_REPO[profile]}:${contextHash(profile, shellRef)}`;
    if (!options.prepare?.profiles.includes(profile) && await imageExists(docker, ref)) images[profile] = ref;
    else later.push(profile);
  }
  const realStep = (profile: SandboxProfile) => async (onPhase: (phase: ImagePhase) => void): Promise<string> => {
    const refs = await ensureImages(docker, { log: progress, stateDir: config.stateDir, pull: config.pull, profiles: [profile], onPhase });
    return refs[profile];
  };
  const prepareLater = (): void => {
    for (const profile of later.splice(0)) {
      const step: PrepareStep = options.prepare?.profiles.includes(profile) ? options.prepare.step : (_, ctx) => ctx.prepare();
      preparation.start(profile, step, realStep(profile));
    }
  };
  if (!options.background) {
    prepareLater();
    await preparation.settled();
    for (const profile of BACKGROUND_PROFILES) {
      const failed = preparation.status(profile)?.state === 'failed' ? preparation.refusal(profile) : undefined;
      if (failed) throw new Error(failed);
    }
  }

  return {
    docker,
    socketPath,
    images,
    facts,
    preparation,
    prepareInBackground(): void {
      if (later.length > 0) progress(`the ${later.join(', ')} sandbox image is prepared in the background; its labs start once it is ready`);
      prepareLater();
    },
    removeLeftovers: sweepLeftovers,
    place: `docker:${facts.id}`,
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
        replica: config.replica,
        session: request.session,
        profile: request.profile,
        image: images[request.profile]!,
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
    openShell(handle: BoxHandle, size: { cols: number; rows: number }): BoxShell {
      return ptyShell(execArgv(socketPath, handle.id), size);
    },
    async writableBytes(handle: BoxHandle): Promise<number> {
      // The kernel's count when it keeps one (box-disk.ts: cheap, and what the cap counts),
      // expressed against the learner's quota: under full qgroups the cap also counts the image's
      // shared blocks (limit = image + quota); under simple quotas limit = quota, and this is referenced.
      const use = await boxDisk?.use(handle.id);
      if (use?.limit !== undefined) return Math.max(0, use.referenced - (use.limit - config.limits[handle.profile].diskMb * 2 ** 20));
      return boxWritableBytes(docker, handle.id);
    },
    diskQuotaBytes(profile: SandboxProfile): number {
      return config.limits[profile].diskMb * 1024 * 1024;
    },
    dial(handle: BoxHandle, port: number): Duplex {
      // The box's address on its session network: the host reaches it, other boxes' networks do not.
      return net.connect({ host: (handle as DockerBox).box.ip, port });
    },
    async runScript(handle: BoxHandle, script: string, timeoutMs: number): Promise<ScriptResult> {
      const r = await execInBox(docker, handle.id, ['bash', '-c', script], { timeoutMs, maxBytes: 64 * 1024, workingDir: '/root' });
      const output = [r.stdout.trim(), r.stderr.trim()].filter(Boolean).join('\n');
      return { exitCode: r.exitCode, output, timedOut: r.timedOut };
    },
  };
}
