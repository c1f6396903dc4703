// Sandbox images: the Debian base (pulled, or bootstrapped offline) and one image per profile,
// built from images/<profile>/ and tagged by a hash of that folder, so they rebuild only when
// the folder changes. Works on a machine without any registry.
import { createHash } from 'node:crypto';
import { copyFileSync, createReadStream, existsSync, linkSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync,
  statSync, writeFileSync, openSync, closeSync, unlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type Docker from 'dockerode';
import type { SandboxProfile } from '../../protocol/api.js';
import { runLogged } from './engine.js';

export type Profile = SandboxProfile;
export const PROFILES: readonly Profile[] = ['shell', 'docker', 'kubernetes'];

/** The base every profile builds FROM; a Dockerfile's FROM finds it locally without a pull. */
export const BASE_IMAGE = 'debian:bookworm-slim';
/** Repository of each profile's image; the tag is the context hash (and :latest). */
export const IMAGE_REPO: Record<Profile, string> = {
  shell: 'termlab/shell', docker: 'termlab/docker', kubernetes: 'termlab/kubernetes',
};
/** Images loaded into the engine inside every docker-profile box (see images/docker/mkimages.sh). */
export const INNER_IMAGES = ['busybox:latest', 'web:latest'] as const;

const IMAGES_DIR = fileURLToPath(new URL('../../images/', import.meta.url));
const MIRROR = 'http://deb.debian.org/debian';
const SCRIPTS_DIR = fileURLToPath(new URL('../../scripts/', import.meta.url));
/** Files that decide the kubernetes binaries; build-kube-bins.sh hashes the same files in this order. */
const KUBE_BIN_INPUTS = [
  path.join(IMAGES_DIR, 'kubernetes/versions.env'),
  path.join(SCRIPTS_DIR, 'build-kube-bins.sh'),
  path.join(SCRIPTS_DIR, 'kube/pause/main.go'),
  path.join(SCRIPTS_DIR, 'kube/termlab-kube/main.go'),
];
/** What the kubernetes image copies from the binaries cache (context folder kube-bins/). */
const KUBE_BINS = ['termlab-kube', 'helm', 'coredns', 'pause'];

export interface ImageOptions {
  log: (line: string) => void;
  /** Holds cache/ (the bootstrapped base rootfs tarball) and a lock shared by concurrent callers. */
  stateDir: string;
  /** Which profiles to make sure of; default all. 'docker' and 'kubernetes' imply 'shell' (they build FROM it). */
  profiles?: Profile[];
  /** Try `docker pull` of the base image before bootstrapping it offline (config: TERMLAB_PULL=1). */
  pull?: boolean;
  /** Told as each slow step begins (a background preparation shows it on the page); quick checks say nothing. */
  onPhase?: (phase: ImagePhase) => void;
}

/** The slow steps of ensureImages, in the order they run. */
export type ImagePhase = 'waiting' | 'base' | 'kube-bins' | 'image';

/**
 * Makes sure the base and the profile images exist in this engine and returns each profile's
 * image ref (termlab/<profile>:<hash>). Slow only the first time (bootstrap ~1 min, builds a few
 * minutes); afterwards it is a few inspect calls.
 */
export async function ensureImages(docker: Docker, opts: ImageOptions): Promise<Record<Profile, string>> {
  const wanted = new Set<Profile>(opts.profiles ?? PROFILES);
  if (wanted.has('docker') || wanted.has('kubernetes')) wanted.add('shell');
  mkdirSync(opts.stateDir, { recursive: true });
  return withLock(path.join(opts.stateDir, 'images.lock'), opts.log, () => opts.onPhase?.('waiting'), async () => {
    const refs = {} as Record<Profile, string>;
    let built = false;
    for (const profile of PROFILES) {
      if (!wanted.has(profile)) continue;
      // docker and kubernetes build FROM the shell image, so their hash covers the shell hash too.
      const parent = profile === 'shell' ? undefined : refs.shell;
      const ref = `${IMAGE_REPO[profile]}:${contextHash(profile, parent)}`;
      refs[profile] = ref;
      if (await imageExists(docker, ref)) continue;
      await ensureBase(docker, opts);
      const started = Date.now();
      opts.log(`termlab: building ${ref} from images/${profile}/ (first run or images/ changed)`);
      const extra = profile === 'kubernetes' ? await ensureKubeBins(opts) : undefined;
      opts.onPhase?.('image');
      await build(docker, profile, ref, parent, opts.log, extra);
      opts.log(`termlab: built ${ref} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
      built = true;
    }
    if (built) await pruneOldImages(docker, refs, opts.log);
    return refs;
  });
}

/** After a rebuild: removes termlab images of earlier images/ versions, so they do not pile up.
 * One still used by a container stays (the engine refuses), and goes at a later rebuild. Only the
 * profiles just ensured are pruned: a call for one profile must not take the others' images. */
async function pruneOldImages(docker: Docker, current: Partial<Record<Profile, string>>, log: (l: string) => void): Promise<void> {
  const keep = new Set(Object.values(current));
  const repos = (Object.keys(current) as Profile[]).map((p) => IMAGE_REPO[p]);
  for (const image of await docker.listImages()) {
    for (const tag of image.RepoTags ?? []) {
      const [repo, version] = tag.split(':');
      if (!repos.includes(repo ?? '') || version === 'latest' || keep.has(tag)) continue;
      await docker.getImage(tag).remove({ noprune: false }).then(() => log(`termlab: removed old image ${tag}`), () => {});
    }
  }
}

export async function imageExists(docker: Docker, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch {
    return false;
  }
}

function contextFiles(profile: Profile): string[] {
  const root = path.join(IMAGES_DIR, profile);
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (statSync(path.join(root, r)).isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk('');
  return out;
}

/** First 12 hex of sha256 over the context's file names, modes and contents (and the parent ref). */
export function contextHash(profile: Profile, parentRef?: string): string {
  const h = createHash('sha256');
  h.update(`termlab-image-v1\0${parentRef ?? ''}\0`);
  if (profile === 'kubernetes') h.update(`kube-bins\0${kubeBinsKey()}\0`);
  const root = path.join(IMAGES_DIR, profile);
  for (const f of contextFiles(profile)) {
    h.update(`${f}\0${statSync(path.join(root, f)).mode & 0o111 ? 'x' : '-'}\0`);
    h.update(readFileSync(path.join(root, f)));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 12);
}

/** Key of the kubernetes binaries' cache folder: sha256 of KUBE_BIN_INPUTS (12 hex). */
export function kubeBinsKey(): string {
  const h = createHash('sha256');
  for (const f of KUBE_BIN_INPUTS) h.update(readFileSync(f));
  return h.digest('hex').slice(0, 12);
}

/**
 * <stateDir>/cache/kube-bins/<key>/ with the kubernetes binaries; builds them with
 * scripts/build-kube-bins.sh (host Go; ~10 min and 3+ GB RAM on a cold Go cache) when missing.
 */
async function ensureKubeBins(opts: ImageOptions): Promise<string> {
  const dir = path.join(opts.stateDir, 'cache', 'kube-bins', kubeBinsKey());
  if (existsSync(path.join(dir, '.complete'))) {
    opts.log(`termlab: kubernetes binaries from ${dir}`);
    return dir;
  }
  const started = Date.now();
  opts.onPhase?.('kube-bins');
  opts.log(`termlab: building the kubernetes binaries into ${dir} (first run: ~10 min with Go's caches cold)`);
  await runLogged('bash', [path.join(SCRIPTS_DIR, 'build-kube-bins.sh'), dir], (line) => opts.log(`  [kube-bins] ${line}`));
  if (!existsSync(path.join(dir, '.complete'))) throw new Error(`scripts/build-kube-bins.sh did not complete ${dir}`);
  opts.log(`termlab: kubernetes binaries built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return dir;
}

async function build(docker: Docker, profile: Profile, ref: string, parent: string | undefined,
  log: (l: string) => void, kubeBins?: string): Promise<void> {
  let context = path.join(IMAGES_DIR, profile);
  let src = contextFiles(profile);
  let tmp: string | undefined;
  if (kubeBins) {
    // A temporary context: images/kubernetes/ plus kube-bins/ (hard links where possible).
    tmp = path.join(path.dirname(path.dirname(kubeBins)), `context.${process.pid}.tmp`);
    rmSync(tmp, { recursive: true, force: true });
    const put = (from: string, rel: string): void => {
      mkdirSync(path.dirname(path.join(tmp!, rel)), { recursive: true });
      try { linkSync(from, path.join(tmp!, rel)); } catch { copyFileSync(from, path.join(tmp!, rel)); }
    };
    for (const f of src) put(path.join(context, f), f);
    for (const b of KUBE_BINS) put(path.join(kubeBins, b), `kube-bins/${b}`);
    context = tmp;
    src = [...src, ...KUBE_BINS.map((b) => `kube-bins/${b}`)];
  }
  try {
    const stream = await docker.buildImage(
      { context, src },
      { t: ref, rm: true, forcerm: true, labels: { 'termlab.profile': profile },
        ...(parent ? { buildargs: { BASE: parent } } : {}) });
    await readJsonStream(stream, (msg) => {
      if (typeof msg.stream === 'string') {
        const text = msg.stream.replace(/\x1b\[[0-9;]*m/g, '');
        for (const line of text.split('\n')) if (line.trim()) log(`  [${profile}] ${line.trimEnd()}`);
      }
    });
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
  await docker.getImage(ref).tag({ repo: IMAGE_REPO[profile], tag: 'latest' });
  await pruneOldTags(docker, profile, ref, log);
}

/** Untags earlier builds of a profile; the engine refuses (and we skip) those boxes still use. */
async function pruneOldTags(docker: Docker, profile: Profile, keep: string, log: (l: string) => void): Promise<void> {
  const repo = IMAGE_REPO[profile];
  for (const img of await docker.listImages({ filters: { reference: [repo] } })) {
    for (const tag of img.RepoTags ?? []) {
      if (tag === keep || tag === `${repo}:latest` || !tag.startsWith(`${repo}:`)) continue;
      try {
        await docker.getImage(tag).remove();
        log(`termlab: removed old image ${tag}`);
      } catch {
        // still used by a box; a later build will try again
      }
    }
  }
}

interface EngineMessage { stream?: string; status?: string; error?: string; errorDetail?: { message?: string } }

/** Reads the engine's JSON-lines progress stream; rejects on an {"error"} message. */
function readJsonStream(stream: NodeJS.ReadableStream, onMsg: (m: EngineMessage) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let failed: string | undefined;
    const handle = (line: string): void => {
      if (!line.trim()) return;
      let msg: EngineMessage;
      try { msg = JSON.parse(line) as EngineMessage; } catch { return; }
      if (msg.error) failed = msg.errorDetail?.message ?? msg.error;
      onMsg(msg);
    };
    stream.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      lines.forEach(handle);
    });
    stream.on('error', reject);
    stream.on('end', () => {
      handle(buf);
      if (failed) reject(new Error(failed)); else resolve();
    });
  });
}

/** debian:bookworm-slim: already there, else a pull, else debootstrap (cached tarball) + import. */
async function ensureBase(docker: Docker, opts: ImageOptions): Promise<void> {
  if (await imageExists(docker, BASE_IMAGE)) return;
  const { log } = opts;
  opts.onPhase?.('base');
  // Pulling is opt-in (TERMLAB_PULL=1): the offline bootstrap needs only Debian's mirror, works
  // where no registry is reachable, and sends nothing to a registry the operator did not choose.
  if (opts.pull) {
    try {
      log(`termlab: pulling ${BASE_IMAGE}`);
      await pullWithTimeout(docker, BASE_IMAGE, 120_000);
      if (await imageExists(docker, BASE_IMAGE)) return;
    } catch (err) {
      log(`termlab: pull failed (${(err as Error).message.split('\n')[0]}); bootstrapping ${BASE_IMAGE} offline`);
    }
  }
  const tarball = await bootstrapTarball(opts.stateDir, log);
  log(`termlab: importing ${tarball} as ${BASE_IMAGE}`);
  const [repo, tag] = BASE_IMAGE.split(':') as [string, string];
  const out = await docker.importImage(createReadStream(tarball),
    { repo, tag, changes: ['CMD ["bash"]', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] } as object);
  await readJsonStream(out as NodeJS.ReadableStream, () => {});
  if (!(await imageExists(docker, BASE_IMAGE))) throw new Error(`import of ${tarball} did not produce ${BASE_IMAGE}`);
}

export async function pullWithTimeout(docker: Docker, ref: string, ms: number): Promise<void> {
  const stream = (await Promise.race([
    docker.pull(ref),
    new Promise((_, rej) => setTimeout(() => rej(new Error('timed out')), ms).unref()),
  ])) as NodeJS.ReadableStream;
  await readJsonStream(stream, () => {});
}

/**
 * A minbase Debian bookworm rootfs as a tarball in <stateDir>/cache, trimmed like the official
 * slim image. Made once with debootstrap (about a minute); later imports reuse the file.
 */
async function bootstrapTarball(stateDir: string, log: (l: string) => void): Promise<string> {
  const cache = path.join(stateDir, 'cache');
  const tarball = path.join(cache, 'debian-bookworm-minbase.tar');
  if (existsSync(tarball)) return tarball;
  if (process.getuid?.() !== 0) {
    throw new Error(`${BASE_IMAGE} is missing and cannot be pulled; bootstrapping it needs root ` +
      '(debootstrap). Run termlab once as root, or load the image into the engine yourself.');
  }
  if (!existsSync('/usr/sbin/debootstrap')) {
    const script = fileURLToPath(new URL('../../scripts/system-deps.sh', import.meta.url));
    if (existsSync('/etc/debian_version') && existsSync(script)) await runLogged('bash', [script, 'server'], log);
    if (!existsSync('/usr/sbin/debootstrap')) {
      throw new Error(`${BASE_IMAGE} is missing and cannot be pulled; install the debootstrap package so termlab can build it offline.`);
    }
  }
  mkdirSync(cache, { recursive: true });
  const dir = path.join(cache, 'rootfs.tmp');
  rmSync(dir, { recursive: true, force: true });
  const started = Date.now();
  log(`termlab: debootstrap --variant=minbase bookworm from ${MIRROR} (about a minute)`);
  let lastLog = 0;
  await runLogged('debootstrap', ['--variant=minbase', 'bookworm', dir, MIRROR], (line) => {
    // debootstrap prints one line per package; show the stage lines and a heartbeat.
    if (!line.startsWith('I: Retrieving') && !line.startsWith('I: Validating') &&
        !line.startsWith('I: Extracting') && !line.startsWith('I: Unpacking') &&
        !line.startsWith('I: Configuring')) log(`  [debootstrap] ${line}`);
    else if (Date.now() - lastLog > 5000) { lastLog = Date.now(); log(`  [debootstrap] ${line}`); }
  });
  trimRootfs(dir);
  const partial = `${tarball}.partial`;
  await runLogged('tar', ['--numeric-owner', '-C', dir, '-cf', partial, '.'], log);
  renameSync(partial, tarball);
  rmSync(dir, { recursive: true, force: true });
  log(`termlab: base rootfs cached at ${tarball} (${(statSync(tarball).size / 1e6).toFixed(0)} MB, ` +
    `${((Date.now() - started) / 1000).toFixed(0)} s)`);
  return tarball;
}

/** What the official debian slim images do to a debootstrap tree (debuerreotype's "slimify"). */
function trimRootfs(dir: string): void {
  const empty = (rel: string): void => {
    const p = path.join(dir, rel);
    if (!existsSync(p) || !statSync(p).isDirectory()) return;
    for (const name of readdirSync(p)) rmSync(path.join(p, name), { recursive: true, force: true });
  };
  ['var/lib/apt/lists', 'var/cache/apt', 'var/log',
    'usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale', 'usr/share/groff',
    'usr/share/lintian', 'tmp'].forEach(empty);
  for (const rel of ['etc/hostname', 'etc/resolv.conf', 'etc/apt/sources.list',
    'var/cache/debconf/templates.dat-old', 'var/lib/dpkg/status-old']) {
    rmSync(path.join(dir, rel), { force: true });
  }
  writeFileSync(path.join(dir, 'etc/apt/sources.list.d/debian.sources'),
    'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\n' +
    'Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n' +
    'Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n' +
    'Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n');
  writeFileSync(path.join(dir, 'etc/apt/apt.conf.d/docker-clean'),
    'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n' +
    'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n' +
    'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";\n');
  writeFileSync(path.join(dir, 'etc/apt/apt.conf.d/docker-no-languages'), 'Acquire::Languages "none";\n');
  writeFileSync(path.join(dir, 'etc/dpkg/dpkg.cfg.d/docker'),
    readFileSync(path.join(IMAGES_DIR, 'shell/dpkg-nodoc'), 'utf8'));
}

/**
 * Serialises image work between processes (a server and a test run may start together):
 * an O_EXCL lock file holding the owner's pid; a lock whose owner is gone is taken over.
 */
async function withLock<T>(file: string, log: (l: string) => void, onWait: () => void, fn: () => Promise<T>): Promise<T> {
  let told = false;
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let text = '';
      try { text = readFileSync(file, 'utf8'); } catch { continue; }
      const owner = Number(text);
      // An empty file is a lock being taken right now; a pid that is gone left a stale lock.
      if (text && (!Number.isInteger(owner) || !alive(owner))) { rmSync(file, { force: true }); continue; }
      if (!told && text) { log(`termlab: waiting for process ${owner} to finish preparing images`); onWait(); told = true; }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    try { unlinkSync(file); } catch { /* already gone */ }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
