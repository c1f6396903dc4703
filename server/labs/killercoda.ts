// Converts a Killercoda (formerly Katacoda) scenario folder into a termlab lab folder, so that
// validate, test, record and the server take it like any other lab. The mapping (docs/authoring.md,
// "Importing a Killercoda scenario"):
//   index.json title/description/time/difficulty   → lab.yaml
//   backend.imageid                                 → profile (kubernetes-* → kubernetes; ubuntu/debian
//                                                     using docker → docker; else shell)
//   details.assets.host01 (files under assets/)     → lab.yaml files (copied into the box at lab start)
//   details.intro.background                        → lab.yaml setup (runs at lab start)
//   details.intro.foreground                        → the first step's foreground
//   details.steps[].background / foreground        → the step's setup / foreground
//   details.steps[].verify                          → the step's check; none → a manual step
//   stepN/solution.sh, ... or the {{exec}} commands → the step's solution
// Everything else is reported, never dropped silently: the import returns warnings (printed and
// written to IMPORT-NOTES.md in the lab folder).
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import type { SandboxProfile } from '../../protocol/api.js';
import { dockerImagesIn, planImages, podImagesIn } from './killercoda-images.js';
import { convertMarkdown } from './killercoda-markdown.js';
import { CHMOD, type FileSpec } from './lab-format.js';
import { LAB_ID } from './lab-loader.js';

/** The scenario cannot be imported: the message names the file, what is wrong and what to do. */
export class ScenarioError extends Error {}

export interface ImportedLab {
  id: string;
  profile: SandboxProfile;
  /** Every file of the lab folder: path inside it → content. */
  files: Map<string, string | Buffer>;
  warnings: string[];
}

// ---- index.json ----

const Page = z.looseObject({
  title: z.string().optional(),
  text: z.string().min(1).optional(),
  background: z.string().min(1).optional(),
  foreground: z.string().min(1).optional(),
});
const Step = z.looseObject({
  title: z.string().min(1),
  text: z.string().min(1),
  verify: z.string().min(1).optional(),
  background: z.string().min(1).optional(),
  foreground: z.string().min(1).optional(),
});
const Asset = z.looseObject({ file: z.string().min(1), target: z.string().min(1), chmod: z.string().min(1).optional() });
const IndexJson = z.looseObject({
  title: z.string().min(1),
  description: z.string().optional(),
  difficulty: z.string().optional(),
  time: z.union([z.string(), z.number()]).optional(),
  details: z.looseObject({
    intro: Page.optional(),
    steps: z.array(Step).min(1, 'a scenario needs at least one step'),
    finish: Page.optional(),
    assets: z.record(z.string(), z.array(Asset)).optional(),
  }),
  backend: z.looseObject({ imageid: z.string().min(1) }).optional(),
});
type IndexJson = z.infer<typeof IndexJson>;

/** Fields termlab carries over; any other is named in a warning. */
const KNOWN = {
  '': ['title', 'description', 'difficulty', 'time', 'details', 'backend'],
  details: ['intro', 'steps', 'finish', 'assets'],
  page: ['title', 'text', 'background', 'foreground'],
  step: ['title', 'text', 'verify', 'background', 'foreground'],
  asset: ['file', 'target', 'chmod'],
  backend: ['imageid'],
};

/** A termlab lab holds at most this many steps (lab-loader.ts). */
const MAX_STEPS = 12;

function readIndex(dir: string): IndexJson {
  const file = path.join(dir, 'index.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new ScenarioError(`${file}: not found: a Killercoda scenario folder has an index.json (is ${dir} the scenario's folder, not its parent?)`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const at = /position (\d+)/.exec(message);
    const line = at ? text.slice(0, Number(at[1])).split('\n').length : 1;
    throw new ScenarioError(`${file}:${line}: not valid JSON (${message.replace(/ in JSON at position \d+.*$/, '')}): fix it and import again`);
  }
  const parsed = IndexJson.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${jsonPath(i.path)}: ${i.code === 'invalid_type' && i.input === undefined ? 'is required' : i.message}`);
    throw new ScenarioError(`${file}: not a Killercoda scenario index:\n  ${problems.join('\n  ')}`);
  }
  return parsed.data;
}

function jsonPath(parts: readonly PropertyKey[]): string {
  return parts.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('') || '(top level)';
}

function unknownKeys(value: object | undefined, known: string[], where: string, warnings: string[]): void {
  for (const [key, inner] of Object.entries(value ?? {})) {
    if (known.includes(key)) continue;
    // Name what was inside too ("environment (uilayout, showdashboard)"): the author looks for those words.
    const keys = inner && typeof inner === 'object' && !Array.isArray(inner) ? Object.keys(inner) : [];
    warnings.push(`${where ? `${where}.` : ''}${key}${keys.length ? ` (${keys.join(', ')})` : ''} is not supported (left out)`);
  }
}

// ---- the scenario's files ----

/** Reads a file the index names; a missing one is an error naming the field and the file. */
function readNamed(dir: string, name: string, field: string): string {
  const file = path.resolve(dir, name);
  if (!file.startsWith(path.resolve(dir) + path.sep)) throw new ScenarioError(`index.json: ${field} names "${name}", outside the scenario folder: use a path inside it`);
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    throw new ScenarioError(`index.json: ${field} names "${name}", which is not in ${dir}: add the file, or remove "${field.split('.').pop()}" from index.json`);
  }
}

function readOptional(dir: string, name: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dir, name), 'utf8');
  } catch {
    return undefined;
  }
}

/** Every file under `root`, as paths relative to it (sorted: the output does not depend on the disk's order). */
function listFiles(root: string, rel = ''): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.sort((a, b) => a.name.localeCompare(b.name)).flatMap((e) => {
    const p = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? listFiles(root, p) : e.isFile() ? [p] : [];
  });
}

/** Killercoda's `file` is a name under assets/, or a pattern with `*` ("*" alone: every file, with its folders). */
function matchAssets(all: string[], pattern: string): string[] {
  if (pattern === '*') return all;
  if (!pattern.includes('*')) return all.includes(pattern) ? [pattern] : [];
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
  return all.filter((f) => re.test(f));
}

/** Where a scenario may keep step N's solution (Killercoda has no field for it), in the order looked at. */
export function solutionCandidates(stepText: string, n: number, steps: number): string[] {
  const folder = path.posix.dirname(stepText);
  return [...new Set([
    ...(folder !== '.' ? [`${folder}/solution.sh`] : []),
    `step${n}/solution.sh`, `solutions/step${n}.sh`, `assets/solution${n}.sh`, `assets/step${n}-solution.sh`,
    ...(steps === 1 ? ['assets/solution.sh'] : []),
  ])];
}

// ---- termlab output ----

function slug(text: string): string {
  return text.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, '') || 'step';
}

/** A script as termlab runs it: with bash, so a #! line says nothing and is dropped. */
function trimScript(text: string): string {
  return text.replace(/\r\n/g, '\n').replace(/^#!.*\n?/, '').trim();
}

/**
 * Killercoda's verify prints nothing when it fails, and termlab shows a failing check's output as
 * the learner's feedback (`labs test` insists on some): the script runs as it is, in a subshell so
 * its own `exit` ends only it, and a plain sentence follows when it fails.
 */
function checkFrom(verify: string, source: string): string {
  return [
    `# ${source} from the Killercoda scenario: exit 0 passes.`,
    'if (',
    trimScript(verify),
    '); then exit 0; fi',
    'echo "Not done yet: this step\'s check does not pass. Do what the step asks (the Run buttons), then check again."',
    'exit 1',
  ].join('\n');
}

/** A solution nobody wrote: `labs test` fails on it (it exits 1) until the author writes one. */
const MISSING_SOLUTION = 'echo "This imported step has no solution yet: write one in its solution: field." >&2\nexit 1';

function frontMatter(fields: Record<string, unknown>): string {
  const yaml = YAML.stringify(Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)), { lineWidth: 0 });
  return `---\n${yaml}---\n`;
}

function profileFor(imageid: string | undefined, usesDocker: boolean, warnings: string[], learnerNotes: string[]): SandboxProfile {
  if (!imageid) {
    warnings.push(`backend.imageid is missing: using the ${usesDocker ? 'docker' : 'shell'} profile`);
    return usesDocker ? 'docker' : 'shell';
  }
  if (imageid.startsWith('kubernetes')) {
    const nodes = /(\d+)nodes?/.exec(imageid);
    if (nodes && Number(nodes[1]) > 1) {
      warnings.push(`backend.imageid ${imageid}: ${nodes[1]} nodes become one (termlab's kubernetes box is a single-node cluster; node01 does not exist)`);
      learnerNotes.push('the cluster has one node, not ' + nodes[1] + ': what the text says about other nodes (node01) does not apply');
    }
    return 'kubernetes';
  }
  if (/^(ubuntu|debian)/.test(imageid)) return usesDocker ? 'docker' : 'shell';
  warnings.push(`backend.imageid ${imageid} is not known: using the ${usesDocker ? 'docker' : 'shell'} profile (Debian)`);
  return usesDocker ? 'docker' : 'shell';
}

const USES_DOCKER = /\bdocker\s+(run|build|ps|images|image|pull|push|exec|create|start|stop|rm|rmi|network|volume|inspect|logs|compose|tag|save|load|commit|container|system|info|version)\b/;
/** Commands that fetch from the internet, which termlab boxes do not reach unless the lab asks. */
const NEEDS_INTERNET = /\b(apt-get|apt|yum|dnf|apk)\s+(install|update|add)\b|\b(curl|wget)\s+\S*https?:\/\/(?!localhost|127\.)|\bpip3?\s+install\b|\bgit\s+clone\b|\bnpm\s+(install|i)\b|\bgo\s+install\b/;

export interface ConvertOptions {
  /** The lab's folder name; default from the scenario folder's name. */
  id?: string;
}

/**
 * Reads the scenario's files and keeps what the whole import needs to know about them: the
 * warnings so far, all text (does it use docker, the internet?) and the images it names.
 */
class ScenarioReader {
  readonly warnings: string[] = [];
  /** What the learner will find different from the original: a note at the end of intro.md. */
  readonly learnerNotes: string[] = [];
  readonly texts: string[] = [];
  /** Image → the file that first names it (docker commands; kubectl/manifests); images the scenario makes itself. */
  readonly dockerImages = new Map<string, string>();
  readonly podImages = new Map<string, string>();
  readonly madeImages = new Set<string>();

  constructor(readonly dir: string) {}

  /** Notes text the scenario runs or shows. */
  scan(text: string, where: string): void {
    this.texts.push(text);
    const { used, made } = dockerImagesIn(text);
    for (const image of used) if (!this.dockerImages.has(image)) this.dockerImages.set(image, where);
    for (const image of made) this.madeImages.add(image);
    for (const image of podImagesIn(text)) if (!this.podImages.has(image)) this.podImages.set(image, where);
  }

  /** A script the index names (undefined when not named, or empty). */
  script(name: string | undefined, field: string): string | undefined {
    if (!name) return undefined;
    const text = trimScript(readNamed(this.dir, name, field));
    this.scan(text, name);
    return text || undefined;
  }

  /** A Markdown file the index names, converted; its code blocks are scanned like scripts. */
  markdown(name: string | undefined, field: string): { markdown: string; execs: string[] } {
    if (!name) return { markdown: '', execs: [] };
    const converted = convertMarkdown(readNamed(this.dir, name, field), name);
    this.warnings.push(...converted.warnings);
    this.texts.push(converted.markdown);
    for (const block of codeBlocks(converted.markdown)) this.scan(block, name);
    return converted;
  }

  /** The first solution file found for step N, or undefined. */
  solution(stepText: string, n: number, steps: number): string | undefined {
    for (const file of solutionCandidates(stepText, n, steps)) {
      const text = readOptional(this.dir, file);
      if (text === undefined) continue;
      this.scan(text, file);
      return trimScript(text) || undefined;
    }
    return undefined;
  }
}

/** A lab.yaml `files` entry (an imported lab has one host, so none names it). */
type FileEntry = Omit<z.infer<typeof FileSpec>, 'host'>;

/** host01's assets: copied into the lab's assets/ and listed for lab.yaml `files` (Killercoda copies them before any script runs). */
function importAssets(reader: ScenarioReader, assets: IndexJson['details']['assets'], files: Map<string, string | Buffer>): FileEntry[] {
  const assetsDir = path.join(reader.dir, 'assets');
  const available = listFiles(assetsDir);
  const entries: FileEntry[] = [];
  for (const [host, list] of Object.entries(assets ?? {})) {
    if (host !== 'host01') {
      reader.warnings.push(`details.assets.${host}: only host01's assets are copied (an imported lab has one host)`);
      continue;
    }
    list.forEach((asset, i) => {
      const field = `details.assets.host01[${i}]`;
      unknownKeys(asset, KNOWN.asset, field, reader.warnings);
      const matched = matchAssets(available, asset.file);
      if (!matched.length) throw new ScenarioError(`index.json: ${field}.file "${asset.file}" matches no file in ${assetsDir}: add it there, or remove the entry`);
      if (asset.chmod && !CHMOD.test(asset.chmod)) throw new ScenarioError(`index.json: ${field}.chmod "${asset.chmod}" is not a chmod mode: use one like +x or 755`);
      const target = /^[/~]/.test(asset.target) ? asset.target.replace(/\/+$/, '') || '/' : `~/${asset.target}`;
      for (const rel of matched) {
        const content = fs.readFileSync(path.join(assetsDir, rel));
        files.set(`assets/${rel}`, content);
        reader.scan(content.toString('utf8'), `assets/${rel}`);
        // "*" keeps the folders under assets/; a named file goes straight into the target folder.
        const sub = asset.file === '*' ? path.posix.dirname(rel) : '.';
        entries.push({ file: `assets/${rel}`, to: sub === '.' ? target : `${target}/${sub}`, ...(asset.chmod ? { chmod: asset.chmod } : {}) });
      }
    });
  }
  return entries;
}

/** One step: its file name under steps/, its front matter and its Markdown. */
function importStep(reader: ScenarioReader, step: IndexJson['details']['steps'][number], i: number, steps: number, introForeground: string | undefined) {
  const n = i + 1;
  const field = `details.steps[${i}]`;
  const text = reader.markdown(step.text, `${field}.text`);
  const verify = reader.script(step.verify, `${field}.verify`);
  const setup = reader.script(step.background, `${field}.background`);
  const foreground = [i === 0 ? introForeground : undefined, reader.script(step.foreground, `${field}.foreground`)].filter(Boolean).join('\n') || undefined;
  // No solution file: what the learner would have clicked; nothing at all: one that fails, said aloud.
  let solution = reader.solution(step.text, n, steps) ?? (text.execs.length ? text.execs.join('\n') : undefined);
  if (!solution && verify) {
    reader.warnings.push(`step ${n} "${step.title}": has a verify but no solution (no ${solutionCandidates(step.text, n, steps).join(', ')}, no {{exec}} commands): \`labs test\` fails on it until you write its solution:`);
  }
  solution ??= verify ? MISSING_SOLUTION : 'echo "Nothing to type for this step: follow its text."';
  if (!verify) reader.warnings.push(`step ${n} "${step.title}": no verify, so it becomes a manual step (the learner presses "Done, next step"; \`labs test\` cannot prove it)`);
  const hints = verify
    ? [text.execs.length ? 'Run the commands marked Run in this step, in order.' : 'Follow the step\'s text; Check tells you when it is done.', 'Show me types the whole solution into the terminal.']
    : ['This step is not checked: when you have done it, press "Done, next step".'];
  const fields = {
    title: step.title.length > 120 ? `${step.title.slice(0, 117)}...` : step.title,
    ...(verify ? { check: checkFrom(verify, step.verify!) } : { manual: true }),
    setup, foreground, solution, hints,
  };
  return { name: `steps/${String(n).padStart(2, '0')}-${slug(step.title)}.md`, content: `${frontMatter(fields)}${withTrailingNewline(text.markdown)}` };
}

/** lab.yaml `images` for a docker lab; warnings for images no box has (kubernetes labs get no aliases). */
function imagesFor(reader: ScenarioReader, profile: SandboxProfile): Record<string, string> | undefined {
  if (profile === 'kubernetes') {
    const images = new Map([...reader.podImages, ...reader.dockerImages]);
    for (const [image, where] of [...images].sort(([a], [b]) => a.localeCompare(b))) {
      reader.warnings.push(`image ${image} (${where}): a kubernetes box has no registry, only termlab/busybox:1.0 and termlab/web:1.0 and 2.0: pods using it will not start (aliases are for docker labs): change the scenario's image`);
    }
  }
  if (profile !== 'docker') return undefined;
  const plan = planImages(reader.dockerImages, reader.madeImages);
  reader.warnings.push(...plan.warnings);
  for (const [image, to] of Object.entries(plan.aliases)) {
    if (to !== image) reader.learnerNotes.push(`the image ${image} is stood in for by termlab's ${to} (there is no registry)`);
  }
  return Object.keys(plan.aliases).length ? plan.aliases : undefined;
}

const DIFFICULTIES = ['beginner', 'intermediate', 'advanced'];

/** lab.yaml's fields from the index (title, description, time, difficulty) and what the import decided. */
function labYamlFor(index: IndexJson, reader: ScenarioReader, decided: { profile: SandboxProfile; files: FileEntry[]; images?: Record<string, string>; setup?: string }): string {
  const title = index.title.length > 120 ? `${index.title.slice(0, 117)}...` : index.title;
  if (title !== index.title) reader.warnings.push('title is longer than 120 characters: shortened');
  const duration = Number.parseInt(String(index.time ?? ''), 10);
  const difficulty = index.difficulty?.toLowerCase();
  if (difficulty && !DIFFICULTIES.includes(difficulty)) reader.warnings.push(`difficulty "${index.difficulty}" is not beginner, intermediate or advanced (left out)`);
  const yaml = {
    title,
    description: (index.description?.trim() || title).slice(0, 2000),
    profile: decided.profile,
    ...(duration >= 1 && duration <= 600 ? { duration } : {}),
    ...(difficulty && DIFFICULTIES.includes(difficulty) ? { difficulty } : {}),
    tags: ['killercoda'],
    ...(decided.files.length ? { files: decided.files } : {}),
    ...(decided.images ? { images: decided.images } : {}),
    ...(decided.setup ? { setup: decided.setup } : {}),
  };
  return `# Imported from a Killercoda scenario by \`npm run labs -- import\`: see IMPORT-NOTES.md.\n${YAML.stringify(yaml, { lineWidth: 0 })}`;
}

/** Reads the scenario in `dir` and returns the termlab lab folder it becomes (nothing is written). */
export function convertScenario(dir: string, opts: ConvertOptions = {}): ImportedLab {
  const id = opts.id ?? slug(path.basename(path.resolve(dir)));
  if (!LAB_ID.test(id)) throw new ScenarioError(`"${id}" cannot name a lab: use --id with lowercase letters, digits and dashes`);
  const index = readIndex(dir);
  const { details } = index;
  const reader = new ScenarioReader(dir);
  const { warnings } = reader;
  unknownKeys(index, KNOWN[''], '', warnings);
  unknownKeys(details, KNOWN.details, 'details', warnings);
  unknownKeys(details.intro, KNOWN.page, 'details.intro', warnings);
  unknownKeys(details.finish, KNOWN.page, 'details.finish', warnings);
  unknownKeys(index.backend, KNOWN.backend, 'backend', warnings);
  details.steps.forEach((s, i) => unknownKeys(s, KNOWN.step, `details.steps[${i}]`, warnings));
  if (details.steps.length > MAX_STEPS) {
    throw new ScenarioError(`index.json: ${details.steps.length} steps; a termlab lab holds at most ${MAX_STEPS}: split the scenario into two and import each`);
  }
  if (details.finish?.background || details.finish?.foreground) {
    warnings.push('details.finish background/foreground are not supported: termlab runs nothing after the last step (left out)');
  }

  const files = new Map<string, string | Buffer>();
  const fileEntries = importAssets(reader, details.assets, files);
  const intro = reader.markdown(details.intro?.text, 'details.intro.text');
  const setup = reader.script(details.intro?.background, 'details.intro.background');
  const introForeground = reader.script(details.intro?.foreground, 'details.intro.foreground');
  const finish = reader.markdown(details.finish?.text, 'details.finish.text');
  const steps = details.steps.map((step, i) => importStep(reader, step, i, details.steps.length, introForeground));

  const usesDocker = reader.texts.some((t) => USES_DOCKER.test(t)) || reader.dockerImages.size > 0;
  const profile = profileFor(index.backend?.imageid, usesDocker, warnings, reader.learnerNotes);
  if (reader.texts.some((t) => NEEDS_INTERNET.test(t))) {
    warnings.push('the scenario downloads things (apt-get, curl, pip, git clone...): termlab boxes have no internet unless lab.yaml says internet: true (and the server allows it)');
  }
  const images = imagesFor(reader, profile);

  files.set('lab.yaml', labYamlFor(index, reader, { profile, files: fileEntries, images, setup }));
  const note = reader.learnerNotes.length ? `\n\n> Imported from a Killercoda scenario, with differences: ${reader.learnerNotes.join('; ')}.` : '';
  files.set('intro.md', withTrailingNewline(intro.markdown.replace(/\s+$/, '') + note));
  files.set('finish.md', withTrailingNewline(finish.markdown));
  for (const step of steps) files.set(step.name, step.content);
  files.set('IMPORT-NOTES.md', importNotes(path.basename(path.resolve(dir)), warnings));
  return { id, profile, files, warnings };
}

function withTrailingNewline(text: string): string {
  return text.trim() ? `${text.replace(/\s+$/, '')}\n` : '';
}

/** The fenced blocks' bodies: where a step's commands (and the images they use) are. */
function codeBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^\s*(`{3,}|~{3,})[^\n]*\n([\s\S]*?)^\s*\1\s*$/gm)].map((m) => m[2]!);
}

function importNotes(source: string, warnings: string[]): string {
  return [
    `# Imported from the Killercoda scenario "${source}"`,
    '',
    'What the import could not carry over, or changed (see docs/authoring.md, "Importing a Killercoda scenario"):',
    '',
    ...(warnings.length ? warnings.map((w) => `- ${w}`) : ['- nothing: every field was carried over.']),
    '',
    'Prove the lab with `npm run labs -- validate <id>` and `npm run labs -- test <id>`.',
    '',
  ].join('\n');
}

/** Writes the lab folder as labsDir/<id>, whole or not at all; refuses to replace one unless `force`. */
export function writeLab(labsDir: string, lab: ImportedLab, opts: { force?: boolean } = {}): string {
  const target = path.join(labsDir, lab.id);
  if (fs.existsSync(target) && !opts.force) {
    throw new ScenarioError(`${target} already exists: pass --force to replace it, or --id <name> to import under another name`);
  }
  fs.mkdirSync(labsDir, { recursive: true });
  const temp = fs.mkdtempSync(path.join(labsDir, `.${lab.id}.import-`));
  try {
    for (const [rel, content] of lab.files) {
      fs.mkdirSync(path.dirname(path.join(temp, rel)), { recursive: true });
      fs.writeFileSync(path.join(temp, rel), content);
    }
    fs.rmSync(target, { recursive: true, force: true });
    fs.renameSync(temp, target);
  } catch (err) {
    fs.rmSync(temp, { recursive: true, force: true });
    throw err;
  }
  return target;
}
