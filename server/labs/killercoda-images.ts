// Which Docker images an imported scenario uses, and which of them a termlab box can offer.
// Killercoda boxes pull from Docker Hub; termlab boxes have no registry (busybox:latest and
// web:latest preloaded, registry:2 on demand), so every other image needs an alias in lab.yaml
// (`images:`, tagged at lab start) or the command using it fails. The import names each one.
import { BOX_IMAGES } from './lab-format.js';

type BoxImage = (typeof BOX_IMAGES)[number];

/** Preloaded in every docker box: no alias needed. */
const PRELOADED = new Set<string>(['busybox:latest', 'web:latest']);

/** Stand-ins the import proposes; each is written into lab.yaml where the author can change it. */
const DEFAULT_ALIASES: Array<{ match: RegExp; to: BoxImage; note?: string }> = [
  { match: /^(nginx|httpd)(:.*)?$/, to: 'web:latest', note: 'a busybox httpd serving a page on port 80' },
  { match: /^busybox:.+$/, to: 'busybox:latest' },
  { match: /^alpine(:.*)?$/, to: 'busybox:latest', note: 'busybox has no apk and no Alpine packages' },
  { match: /^registry:2$/, to: 'registry:2' },
];

/** `docker run` options that take a value (the image is the first word that is neither). */
const VALUE_OPTIONS = new Set([
  '-p', '--publish', '--name', '-e', '--env', '--env-file', '-v', '--volume', '--mount', '--network', '--net', '-w', '--workdir',
  '--restart', '-m', '--memory', '--memory-swap', '--cpus', '--cpu-shares', '-c', '-h', '--hostname', '--entrypoint', '-u', '--user',
  '-l', '--label', '--add-host', '--dns', '--pid', '--ipc', '--uts', '--cap-add', '--cap-drop', '--device', '--log-driver', '--log-opt',
  '--ulimit', '--tmpfs', '--platform', '--pull', '--security-opt', '--stop-signal', '--stop-timeout', '--health-cmd', '--ip',
  '--network-alias', '--link', '--volumes-from', '--pids-limit', '--shm-size', '--runtime', '--cgroupns', '--expose', '--sysctl',
  '-a', '--attach', '--cidfile', '--gpus', '--init-path', '--isolation', '--kernel-memory', '--userns', '--storage-opt',
]);

/** nginx → nginx:latest; docker.io/library/nginx:1 → nginx:1; undefined for what is not an image. */
export function normaliseImage(word: string): string | undefined {
  const ref = word.replace(/^['"]|['"]$/g, '').replace(/^(docker\.io\/)?(library\/)?/, '');
  if (!/^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?(@sha256:[a-f0-9]+)?$/.test(ref)) return undefined;
  return /:[^/]*$/.test(ref) ? ref : `${ref}:latest`;
}

function imageAfter(words: string[]): string | undefined {
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '\\' || w === '') continue;
    if (w.startsWith('-')) {
      if (!w.includes('=') && VALUE_OPTIONS.has(w)) i++;
      continue;
    }
    return normaliseImage(w);
  }
  return undefined;
}

/** Images a shell script or a code block runs, pulls or builds FROM; and the ones it builds or tags itself. */
export function dockerImagesIn(script: string): { used: string[]; made: string[] } {
  const used: string[] = [];
  const made: string[] = [];
  // A command continued over lines with "\" is one command.
  for (const line of script.replace(/\\\n/g, ' ').split(/\n|&&|;|\|/)) {
    const words = line.trim().split(/\s+/);
    const d = words.indexOf('docker');
    if (d >= 0) {
      let verb = words.slice(d + 1);
      if (verb[0] === 'container' || verb[0] === 'image') verb = verb.slice(1);
      if (['run', 'create', 'pull'].includes(verb[0] ?? '')) {
        const image = imageAfter(verb.slice(1));
        if (image) used.push(image);
      } else if (verb[0] === 'build' || verb[0] === 'tag' || verb[0] === 'commit') {
        // The tag a command makes: build -t NAME, tag SRC NAME, commit CONTAINER NAME.
        const t = verb.findIndex((w) => w === '-t' || w === '--tag');
        const name = verb[0] === 'build' ? (t >= 0 ? verb[t + 1] : undefined) : verb.filter((w) => !w.startsWith('-'))[2];
        const image = name ? normaliseImage(name) : undefined;
        if (image) made.push(image);
      }
    }
    const from = /^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)/i.exec(line);
    if (from && !/^scratch$/i.test(from[1]!)) {
      const image = normaliseImage(from[1]!);
      if (image) used.push(image);
    }
  }
  return { used, made };
}

/** Images a Kubernetes command or manifest names (kubectl --image, `image:` in YAML), for kubernetes labs. */
export function podImagesIn(script: string): string[] {
  const found = [...script.matchAll(/--image[= ]['"]?([^\s'"]+)/g), ...script.matchAll(/^\s*(?:-\s+)?image:\s*['"]?([^\s'"#]+)/gm)].map((m) => m[1]!);
  // termlab's kubernetes box has its own images (termlab/web:1.0...): those need nothing.
  return found.map(normaliseImage).filter((i): i is string => i !== undefined && !i.startsWith('termlab/'));
}

export interface ImagePlan {
  /** Alias → box image, for lab.yaml's `images`. */
  aliases: Record<string, BoxImage>;
  /** One line per image the box will not have, or stands in for: for the import's warnings. */
  warnings: string[];
}

/** Decides, for the images a docker scenario uses, which the box has, which get a stand-in, and which are missing. */
export function planImages(used: Map<string, string>, made: Set<string>): ImagePlan {
  const aliases: Record<string, BoxImage> = {};
  const warnings: string[] = [];
  for (const [image, where] of [...used].sort(([a], [b]) => a.localeCompare(b))) {
    if (PRELOADED.has(image) || made.has(image)) continue;
    const alias = DEFAULT_ALIASES.find((a) => a.match.test(image));
    if (alias) {
      aliases[image] = alias.to;
      if (alias.to !== image) warnings.push(`image ${image} (${where}) is stood in for by ${alias.to}${alias.note ? `: ${alias.note}` : ''} (lab.yaml images: change it there)`);
      continue;
    }
    warnings.push(`image ${image} (${where}) is not in the box and has no stand-in: there is no registry, so commands using it fail. ` +
      `Add it to lab.yaml images: with one of ${BOX_IMAGES.join(', ')}, or change the scenario's commands`);
  }
  return { aliases, warnings };
}
