// Brings up what the server and the tests need, with progress: a user-namespace-remapped Docker
// engine (installed and started if missing) and the sandbox images (built if missing or changed).
// Every profile by default (the tests need the kubernetes image); `--profiles shell,docker` for fewer.
import { loadConfig } from '../server/config.js';
import { ensureEngine, resolveSocketPath } from '../server/sandbox/engine.js';
import { ensureImages, PROFILES, type Profile } from '../server/sandbox/images.js';
import { ensureRunsc } from '../server/sandbox/runsc.js';

const config = loadConfig();
const log = (line: string) => console.log(line.startsWith('termlab:') ? line : `termlab: ${line}`);
const arg = process.argv.indexOf('--profiles');
const profiles = arg < 0 ? [...PROFILES] : (process.argv[arg + 1] ?? '').split(',').filter(Boolean) as Profile[];
const unknown = profiles.filter((p) => !PROFILES.includes(p));
if (profiles.length === 0 || unknown.length > 0) {
  console.error(`termlab: --profiles takes a comma list of ${PROFILES.join(', ')}${unknown.length ? ` (not: ${unknown.join(', ')})` : ''}`);
  process.exit(2);
}
const started = Date.now();
try {
  // TERMLAB_RUNTIME=runsc: gVisor's runsc, built once (cached), for the engine's runsc runtimes.
  if (config.engine.runtime === 'runsc') await ensureRunsc({ stateDir: config.stateDir, engineDir: config.engine.dir, log });
  const docker = await ensureEngine({ socketPath: resolveSocketPath(config.dockerSocket), stateDir: config.stateDir, log });
  const images = await ensureImages(docker, { log, stateDir: config.stateDir, pull: config.pull, profiles });
  log(`sandbox images ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${Object.values(images).join(', ')}`);
} catch (err) {
  console.error(`termlab: ${(err as Error).message}`);
  process.exit(1);
}
