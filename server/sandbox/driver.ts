// The Docker implementation of what sessions need from sandboxes (sessions/sandbox-driver.ts).
import type Docker from 'dockerode';
import type { SandboxProfile } from '../../protocol/api.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { BoxHandle, BoxRequest, SandboxDriver, ScriptResult } from '../sessions/sandbox-driver.js';
import { boxWritableBytes, createBox, destroyBox, execArgv, execInBox, removeLeftovers, type Box } from './boxes.js';
import { ensureEngine, resolveSocketPath } from './engine.js';
import { ensureImages } from './images.js';

export interface DockerDriver extends SandboxDriver {
  readonly docker: Docker;
  readonly socketPath: string;
  readonly images: Record<SandboxProfile, string>;
  removeLeftovers(): Promise<void>;
}

type DockerBox = BoxHandle & { box: Box };

/** The box's address on its session network (the port proxy connects there). */
export function boxAddress(handle: BoxHandle): string {
  return (handle as DockerBox).box.ip;
}

/** Engine up, leftovers of a previous run removed, images built: then boxes can be made. */
export async function createDockerDriver(config: Config, log: Logger, progress: (line: string) => void): Promise<DockerDriver> {
  const socketPath = resolveSocketPath(config.dockerSocket);
  const docker = await ensureEngine({ socketPath, stateDir: config.stateDir, log: progress });
  const sweepLeftovers = async () => {
    const removed = await removeLeftovers(docker, config.instance, (line) => log.info(line));
    if (removed.containers + removed.networks + removed.volumes > 0) {
      log.info({ ...removed, instance: config.instance }, 'removed what a previous run left behind');
    }
  };
  await sweepLeftovers();
  const images = await ensureImages(docker, { log: progress, stateDir: config.stateDir });

  return {
    docker,
    socketPath,
    images,
    removeLeftovers: sweepLeftovers,
    async create(request: BoxRequest): Promise<BoxHandle> {
      const box = await createBox(docker, {
        instance: config.instance,
        session: request.session,
        profile: request.profile,
        image: images[request.profile],
        hostname: request.hostname,
        limits: config.limits[request.profile],
        internet: request.internet,
      });
      const handle: DockerBox = { id: box.id, session: box.session, profile: box.profile, box };
      return handle;
    },
    async destroy(handle: BoxHandle): Promise<void> {
      await destroyBox(docker, (handle as DockerBox).box);
    },
    shellArgv(handle: BoxHandle): string[] {
      return execArgv(socketPath, handle.id);
    },
    writableBytes(handle: BoxHandle): Promise<number> {
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
