// The boxes of one lab session: one per host, all on the session's private network.
import type { BoxHandle, SandboxDriver } from '../sandbox/sandbox-driver.js';
import type { Lab, LabFile } from './lab-loader.js';

const START_TIMEOUT_MS = 120_000;
/** registry:2 is not loaded at box start (23 MB); a lab that aliases it loads it from here. */
const REGISTRY_TAR = '/opt/termlab/registry.tar';

/** Boxes for every host of the lab, on one session network; destroy them with destroyLabBoxes. */
export async function createLabBoxes(driver: SandboxDriver, lab: Lab, session: string): Promise<Map<string, BoxHandle>> {
  const boxes = new Map<string, BoxHandle>();
  // The first box makes the session network; the others join it.
  const [first, ...rest] = lab.hosts;
  boxes.set(first!, await driver.create({ session, profile: lab.profile, hostname: first!, internet: lab.internet }));
  const others = await Promise.allSettled(rest.map((host) => driver.create({ session, profile: lab.profile, hostname: host, internet: lab.internet })));
  others.forEach((r, i) => { if (r.status === 'fulfilled') boxes.set(rest[i]!, r.value); });
  const failed = others.find((r) => r.status === 'rejected');
  if (failed) {
    await destroyLabBoxes(driver, boxes);
    throw (failed as PromiseRejectedResult).reason;
  }
  return boxes;
}

export async function destroyLabBoxes(driver: SandboxDriver, boxes: Map<string, BoxHandle>): Promise<void> {
  await Promise.all([...boxes.values()].map((b) => driver.destroy(b).catch(() => {})));
}

/** Quotes a string for bash. */
function sh(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * A script reaches the box as one argument of `bash -c`, and Linux caps one argument at 128 KiB
 * (MAX_ARG_STRLEN): a file's base64 goes in pieces this long, appended one script at a time.
 */
const PIECE_CHARS = 96 * 1024;
/** Scripts are joined up to this length, so that many small files take one exec, not one each. */
const BATCH_CHARS = 120 * 1024;

/** Joins consecutive scripts while they fit in one `bash -c` argument. */
function batched(scripts: string[]): string[] {
  const out: string[] = [];
  for (const script of scripts) {
    const last = out.at(-1);
    if (last !== undefined && last.length + script.length + 1 <= BATCH_CHARS) out[out.length - 1] = `${last}\n${script}`;
    else out.push(script);
  }
  return out;
}

/** Bash scripts, each under the cap, that write the lab's files into a box (base64: any bytes survive). */
function filesScripts(files: LabFile[]): string[] {
  return files.flatMap((f) => {
    const target = `${f.to.replace(/\/+$/, '')}/${f.file.split('/').pop()}`;
    const data = f.content.toString('base64');
    const pieces = Array.from({ length: Math.max(1, Math.ceil(data.length / PIECE_CHARS)) }, (_, i) => data.slice(i * PIECE_CHARS, (i + 1) * PIECE_CHARS));
    return pieces.map((piece, i) => [
      'set -e',
      ...(i === 0 ? [`mkdir -p ${sh(f.to)}`] : []),
      `base64 -d ${i === 0 ? '>' : '>>'} ${sh(target)} <<'TERMLAB_FILE'`, piece.replace(/(.{76})/g, '$1\n'), 'TERMLAB_FILE',
      ...(i === pieces.length - 1 && f.chmod ? [`chmod ${sh(f.chmod)} ${sh(target)}`] : []),
    ].join('\n'));
  });
}

/** Bash that tags the lab's image aliases in the box's own engine (no registry needed). */
function imagesScript(images: Record<string, string>): string {
  const sources = new Set(Object.values(images));
  return [
    ...(sources.has('registry:2') ? [`docker image inspect registry:2 >/dev/null 2>&1 || docker load -q -i ${REGISTRY_TAR} >/dev/null`] : []),
    ...Object.entries(images).map(([alias, source]) => `docker tag ${sh(source)} ${sh(alias)}`),
  ].join('\n');
}

/**
 * What a lab does once when its boxes are up, before the first step: copy its files in, tag its
 * image aliases, run its setup (first host). The session, `labs test` and walkthroughs all call it,
 * so a pre-started box (which skips createLabBoxes) gets it too. Throws with the failing output.
 */
export async function startLab(driver: SandboxDriver, lab: Lab, boxes: Map<string, BoxHandle>): Promise<void> {
  await Promise.all(lab.hosts.map(async (host) => {
    const scripts = filesScripts(lab.files.filter((f) => !f.host || f.host === host));
    if (lab.profile === 'docker' && Object.keys(lab.images).length) scripts.push(`set -e\n${imagesScript(lab.images)}`);
    for (const script of batched(scripts)) {
      const result = await driver.runScript(boxes.get(host)!, script, START_TIMEOUT_MS);
      if (result.exitCode !== 0) throw new Error(`copying the lab's files or tagging its images failed on ${host} (exit ${result.exitCode}): ${result.output}`);
    }
  }));
  if (!lab.setup) return;
  const result = await driver.runScript(boxes.get(lab.hosts[0]!)!, lab.setup, START_TIMEOUT_MS);
  if (result.exitCode !== 0) throw new Error(`the lab's setup failed (exit ${result.exitCode}${result.timedOut ? ', timed out' : ''}): ${result.output}`);
}
