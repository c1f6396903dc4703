// Shared set-up for the sandbox tests: the real engine and images (built on first use), and a
// unique instance name per test file so a run only ever removes what it made itself.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import { ensureEngine } from '../../../server/sandbox/engine.js';
import { ensureImages, type Profile } from '../../../server/sandbox/images.js';
import { execInBox, type BoxLimits } from '../../../server/sandbox/boxes.js';

export const stateDir = process.env.TERMLAB_STATE_DIR ??
  path.resolve(fileURLToPath(new URL('../../../var', import.meta.url)));

/** Progress goes to stderr so a first run's long build shows; set TERMLAB_TEST_QUIET=1 to hide. */
export const log = (line: string): void => {
  if (process.env.TERMLAB_TEST_QUIET !== '1') process.stderr.write(`${line}\n`);
};

let ready: Promise<{ docker: Docker; images: Record<Profile, string> }> | undefined;

export function engineAndImages(): Promise<{ docker: Docker; images: Record<Profile, string> }> {
  ready ??= (async () => {
    const docker = await ensureEngine({ stateDir, log });
    const images = await ensureImages(docker, { log, stateDir });
    return { docker, images };
  })();
  return ready;
}

export function uniqueInstance(tag: string): string {
  return `test-${tag}-${randomBytes(3).toString('hex')}`;
}

export const SHELL_LIMITS: BoxLimits = { memoryMb: 256, pids: 128, cpus: 0.5, diskMb: 64 };
export const DOCKER_LIMITS: BoxLimits = { memoryMb: 768, pids: 512, cpus: 1, diskMb: 512 };

/** Runs `bash -c script` in a box; returns trimmed stdout, failing the test on a non-zero exit. */
export async function sh(docker: Docker, id: string, script: string, timeoutMs = 20_000): Promise<string> {
  const r = await execInBox(docker, id, ['bash', '-c', script], { timeoutMs });
  if (r.exitCode !== 0) throw new Error(`"${script}" exited ${r.exitCode}${r.timedOut ? ' (timed out)' : ''}: ${r.stderr || r.stdout}`);
  return r.stdout.trim();
}

/** The exit code (and stderr) of `bash -c script`, for commands expected to fail. */
export async function shStatus(docker: Docker, id: string, script: string, timeoutMs = 20_000): Promise<{ code: number; err: string; ms: number }> {
  const t = Date.now();
  const r = await execInBox(docker, id, ['bash', '-c', script], { timeoutMs });
  return { code: r.exitCode, err: (r.stderr || r.stdout).trim(), ms: Date.now() - t };
}
export const KUBERNETES_LIMITS: BoxLimits = { memoryMb: 1536, pids: 1024, cpus: 1.5, diskMb: 1024 };
