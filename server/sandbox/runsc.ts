// gVisor's runsc, the OCI runtime of TERMLAB_RUNTIME=runsc: shell and docker boxes then run on
// a user-space kernel (the sentry) instead of the host's, so a kernel bug reachable from a box is
// gVisor's, not the host's. Built once with the host's Go by scripts/build-runsc.sh into
// <stateDir>/cache/runsc/<key>/ (the key hashes the script, which pins the version), then linked
// at <engine dir>/bin/runsc, where the wrappers that termlab's engine registers (engine.ts:
// RUNSC_RUNTIME, RUNSC_DIND_RUNTIME) run it.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readlinkSync, renameSync, symlinkSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLogged, writeRunscWrappers } from './engine.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/build-runsc.sh', import.meta.url));

/** Key of runsc's cache folder: sha256 of scripts/build-runsc.sh (12 hex; the script pins the version). */
export function runscKey(): string {
  return createHash('sha256').update(readFileSync(SCRIPT)).digest('hex').slice(0, 12);
}

export interface RunscOptions {
  stateDir: string;
  /** The engine's folder (EngineSettings.dir): runsc is linked at <dir>/bin/runsc. */
  engineDir: string;
  log: (line: string) => void;
}

/**
 * Builds runsc when its cache folder is incomplete (host Go; ~3 min on a cold Go cache, seconds
 * warm), then points <engineDir>/bin/runsc at it. Returns the binary's path in the cache.
 */
export async function ensureRunsc(opts: RunscOptions): Promise<string> {
  const dir = path.resolve(opts.stateDir, 'cache', 'runsc', runscKey());
  const bin = path.join(dir, 'runsc');
  if (existsSync(path.join(dir, '.complete'))) {
    opts.log(`termlab: gVisor runsc from ${dir}`);
  } else {
    const started = Date.now();
    opts.log(`termlab: building gVisor's runsc into ${dir} (first run: ~3 min with Go's caches cold)`);
    await runLogged('bash', [SCRIPT, dir], (line) => opts.log(`  [runsc] ${line}`));
    if (!existsSync(path.join(dir, '.complete'))) throw new Error(`scripts/build-runsc.sh did not complete ${dir}`);
    opts.log(`termlab: runsc built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  const link = path.join(opts.engineDir, 'bin', 'runsc');
  let current: string | undefined;
  try { current = readlinkSync(link); } catch { /* missing */ }
  if (current !== bin) {
    mkdirSync(path.dirname(link), { recursive: true });
    // A new link beside the old one, renamed over it: sandboxes starting meanwhile see one or the other.
    rmSync(`${link}.new`, { force: true });
    symlinkSync(bin, `${link}.new`);
    renameSync(`${link}.new`, link);
    opts.log(`termlab: ${link} -> ${bin}`);
  }
  writeRunscWrappers(path.dirname(link));
  return bin;
}
