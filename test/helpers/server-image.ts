// The server image (images/server/Dockerfile), as test/deploy builds it.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
export const SERVER_IMAGE = 'termlab/server:latest';

/** The host's own additions to its trust store, for a build behind a proxy that re-signs HTTPS. */
export function localCaCerts(): string {
  const dir = '/usr/local/share/ca-certificates';
  if (!existsSync(dir)) return '';
  return readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.crt')).sort()
    .map((f) => readFileSync(path.join(dir, f), 'utf8').trim()).join('\n');
}

/** Builds the server image unless the engine has it (docker-compose.yml's build, without compose). */
export function ensureServerImage(): void {
  if (spawnSync('docker', ['image', 'inspect', SERVER_IMAGE], { stdio: 'ignore' }).status === 0) return;
  const r = spawnSync('docker', ['build', '-f', 'images/server/Dockerfile', '--build-arg', `EXTRA_CA_CERTS=${localCaCerts()}`, '-t', SERVER_IMAGE, '.'],
    { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (r.status !== 0) throw new Error(`building ${SERVER_IMAGE} failed:\n${r.stderr.slice(-4000)}`);
}
