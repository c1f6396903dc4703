// Reads and validates one lab folder. Every problem is reported with its file and line, all at once,
// so an author fixes a lab in one pass.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML, { LineCounter, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { LabYaml, NAME, StepFrontMatter } from './lab-format.js';
import type { LabSummary } from '../../protocol/api.js';

export interface LabProblem { file: string; line: number; message: string }

export class LabInvalid extends Error {
  constructor(readonly lab: string, readonly problems: LabProblem[]) {
    super(problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n'));
  }
}

export interface LabTerminal { id: string; host: string; title: string }

export interface LabStep {
  index: number;
  file: string;
  title: string;
  /** Markdown shown to the learner (front matter removed). */
  text: string;
  host: string;
  terminal: string;
  /** Undefined for a manual step (the learner marks it done). */
  check: string | undefined;
  manual: boolean;
  setup?: string;
  /** Typed into the step's terminal (by the page) when the step becomes current. */
  foreground?: string;
  solution: string;
  hints: string[];
  timeoutS: number;
}

/** A file of the lab folder copied into a box when the lab starts. */
export interface LabFile {
  /** Path inside the lab folder (assets/wait.sh). */
  file: string;
  content: Buffer;
  /** Folder in the box; `~` already replaced by /root. */
  to: string;
  chmod?: string;
  /** Undefined: every host. */
  host?: string;
}

export interface Lab extends Omit<LabSummary, 'steps' | 'walkthrough'> {
  dir: string;
  internet: boolean;
  hosts: string[];
  files: LabFile[];
  /** Image alias → image the box has (docker labs), tagged when the lab starts. */
  images: Record<string, string>;
  /** Run on the first host when the lab starts. */
  setup?: string;
  terminals: LabTerminal[];
  intro: string;
  finish: string;
  steps: LabStep[];
}

export const LAB_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Code-fence attributes after the language: ```bash exec terminal=host2 */
const FENCE_FLAGS = new Set(['exec', 'copy', 'interrupt']);
const FENCE_KEYS = new Set(['terminal']);
/** Files go into every box of every session through a script: keep them small. */
const MAX_FILES_BYTES = 2 * 1024 * 1024;

class Problems {
  readonly list: LabProblem[] = [];
  constructor(private readonly dir: string) {}
  add(file: string, line: number, message: string): void {
    this.list.push({ file: path.relative(path.dirname(this.dir), file) || file, line, message });
  }
}

function readText(file: string, problems: Problems, what: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    problems.add(file, 1, `${what} is missing: create ${path.basename(file)}`);
    return undefined;
  }
}

/** Parses YAML and checks it against a schema; problems carry lines offset by `firstLine - 1`. */
function parseYaml<T extends z.ZodType>(text: string, schema: T, file: string, firstLine: number, problems: Problems): z.infer<T> | undefined {
  const lineCounter = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number) => lineCounter.linePos(offset).line + firstLine - 1;
  if (doc.errors.length) {
    for (const err of doc.errors) problems.add(file, lineAt(err.pos[0]), `YAML: ${err.message.split('\n')[0]}`);
    return undefined;
  }
  const parsed = schema.safeParse(doc.toJS() ?? {});
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') message = `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    if (issue.code === 'invalid_type' && issue.input === undefined) message = 'is required';
    problems.add(file, lineOf(doc, issue.path as Array<string | number>, lineAt, issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined), `${where}${message}`);
  }
  return undefined;
}

function lineOf(doc: Document, pathTo: Array<string | number>, lineAt: (offset: number) => number, key?: string): number {
  for (let n = pathTo.length; n >= 0; n--) {
    const node = doc.getIn(pathTo.slice(0, n), true);
    if (!isNode(node) || !node.range) continue;
    if (key !== undefined && n === pathTo.length && YAML.isMap(node)) {
      const pair = node.items.find((p) => YAML.isScalar(p.key) && p.key.value === key);
      if (pair && isNode(pair.key) && pair.key.range) return lineAt(pair.key.range[0]);
    }
    if (n < pathTo.length && YAML.isMap(node)) {
      // A missing or bad key: point at the key itself if present.
      const pair = node.items.find((p) => YAML.isScalar(p.key) && p.key.value === pathTo[n]);
      if (pair && isNode(pair.key) && pair.key.range) return lineAt(pair.key.range[0]);
    }
    return lineAt(node.range[0]);
  }
  return lineAt(0);
}

/** Splits "---\nfront matter\n---\nbody" and returns the body's first line number. */
function splitFrontMatter(text: string): { yaml: string; body: string; bodyLine: number } | undefined {
  const m = /^---\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/.exec(text);
  if (!m) return undefined;
  const yaml = m[1]!;
  return { yaml, body: text.slice(m[0].length), bodyLine: yaml.split('\n').length + 3 };
}

/** `bash -n`: a syntax error in a script is found here, not in front of a learner. */
function checkBashSyntax(scriptText: string, file: string, startLine: number, field: string, problems: Problems): void {
  const r = spawnSync('bash', ['-n'], { input: scriptText, encoding: 'utf8', timeout: 5000 });
  if (r.status === 0) return;
  const m = /line (\d+): (.*)/.exec(r.stderr ?? '');
  problems.add(file, startLine + (m ? Number(m[1]) : 1), `${field}: bash syntax error: ${m ? m[2] : (r.stderr || 'unknown').trim()}`);
}

/** The line in `text` (1-based) where `field:` starts, or 1. */
function fieldLine(yamlText: string, field: string): number {
  const idx = yamlText.split('\n').findIndex((l) => l.startsWith(`${field}:`));
  return idx >= 0 ? idx + 1 : 1;
}

/** Checks code-fence actions and port links in Markdown against the lab's terminals and hosts. */
function checkMarkdown(text: string, file: string, firstLine: number, terminals: Set<string>, hosts: Set<string>, problems: Problems): void {
  const lines = text.split('\n');
  let inFence = false;
  lines.forEach((line, i) => {
    const fence = /^\s*(```+|~~~+)(.*)$/.exec(line);
    if (fence) {
      if (inFence) { inFence = false; return; }
      inFence = true;
      const words = fence[2]!.trim().split(/\s+/).filter(Boolean).slice(1);
      for (const word of words) {
        const [key, value] = word.split('=', 2) as [string, string | undefined];
        if (value === undefined && FENCE_FLAGS.has(key)) continue;
        if (value !== undefined && FENCE_KEYS.has(key)) {
          if (!terminals.has(value)) problems.add(file, firstLine + i, `code block: terminal "${value}" is not one of this lab's terminals (${[...terminals].join(', ')})`);
          continue;
        }
        problems.add(file, firstLine + i, `code block: unknown action "${word}" (use exec, copy, interrupt, terminal=<id>)`);
      }
      return;
    }
    if (inFence) return;
    for (const m of line.matchAll(/\]\(port:\/\/([^)\s]*)\)/g)) {
      const link = /^(?:([a-z][a-z0-9-]*):)?(\d{1,5})(\/[^\s]*)?$/.exec(m[1]!);
      const port = link ? Number(link[2]) : 0;
      if (!link || port < 1 || port > 65535) problems.add(file, firstLine + i, `port link "port://${m[1]}" must be port://PORT or port://HOST:PORT/path`);
      else if (link[1] && !hosts.has(link[1])) problems.add(file, firstLine + i, `port link names host "${link[1]}", which this lab does not have`);
    }
  });
  if (inFence) problems.add(file, firstLine + lines.length - 1, 'a code block is not closed (```)');
}

/** Loads labs/<id>; throws LabInvalid listing every problem found. */
export function loadLab(labsDir: string, id: string): Lab {
  if (!LAB_ID.test(id)) throw new LabInvalid(id, [{ file: id, line: 1, message: 'a lab folder name must be lowercase letters, digits and dashes' }]);
  const dir = path.join(labsDir, id);
  const problems = new Problems(dir);
  const labFile = path.join(dir, 'lab.yaml');
  const labText = readText(labFile, problems, 'lab.yaml');
  const meta = labText === undefined ? undefined : parseYaml(labText, LabYaml, labFile, 1, problems);

  const hosts = meta?.hosts?.map((h) => h.name) ?? ['lab'];
  const terminals: LabTerminal[] = (meta?.terminals ?? hosts.map((h) => ({ id: hosts.length === 1 ? 'main' : h, host: h, title: undefined })))
    .map((t) => ({ id: t.id, host: t.host, title: t.title ?? t.host }));
  if (meta && labText !== undefined) {
    const dupHosts = hosts.filter((h, i) => hosts.indexOf(h) !== i);
    if (dupHosts.length) problems.add(labFile, fieldLine(labText, 'hosts'), `hosts: "${dupHosts[0]}" is named twice`);
    const ids = terminals.map((t) => t.id);
    const dupIds = ids.filter((t, i) => ids.indexOf(t) !== i);
    if (dupIds.length) problems.add(labFile, fieldLine(labText, 'terminals'), `terminals: id "${dupIds[0]}" is used twice`);
    for (const t of terminals) {
      if (!hosts.includes(t.host)) problems.add(labFile, fieldLine(labText, 'terminals'), `terminals: "${t.id}" is on host "${t.host}", which is not in hosts (${hosts.join(', ')})`);
    }
  }
  const terminalIds = new Set(terminals.map((t) => t.id));
  const hostSet = new Set(hosts);
  const files = meta && labText !== undefined ? readLabFiles(dir, meta.files ?? [], hostSet, labFile, labText, problems) : [];
  if (meta && labText !== undefined) {
    if (meta.images && Object.keys(meta.images).length && meta.profile !== 'docker') {
      problems.add(labFile, fieldLine(labText, 'images'), `images: only docker labs have an engine to tag images in (this lab's profile is ${meta.profile})`);
    }
    if (meta.setup) checkBashSyntax(meta.setup, labFile, fieldLine(labText, 'setup'), 'setup', problems);
  }

  const markdownFile = (name: string, what: string): string => {
    const file = path.join(dir, name);
    const text = readText(file, problems, what) ?? '';
    checkMarkdown(text, file, 1, terminalIds, hostSet, problems);
    return text;
  };
  const intro = markdownFile('intro.md', 'the intro page');
  const finish = markdownFile('finish.md', 'the finish page');

  const stepsDir = path.join(dir, 'steps');
  let stepFiles: string[] = [];
  try {
    stepFiles = fs.readdirSync(stepsDir).filter((f) => f.endsWith('.md')).sort();
  } catch { /* reported below */ }
  if (stepFiles.length === 0) problems.add(stepsDir, 1, 'a lab needs steps: add steps/01-<name>.md files');
  if (stepFiles.length > 12) problems.add(stepsDir, 1, `${stepFiles.length} steps is too many for one lab (at most 12): split it`);

  const steps: LabStep[] = [];
  for (const name of stepFiles) {
    const file = path.join(stepsDir, name);
    const text = readText(file, problems, 'step') ?? '';
    const split = splitFrontMatter(text);
    if (!split) {
      problems.add(file, 1, 'a step file starts with front matter: a line "---", then title, check, solution and hints in YAML, then "---"');
      continue;
    }
    const fm = parseYaml(split.yaml, StepFrontMatter, file, 2, problems);
    checkMarkdown(split.body, file, split.bodyLine, terminalIds, hostSet, problems);
    if (!fm) continue;
    const host = fm.host ?? hosts[0]!;
    if (!hostSet.has(host)) problems.add(file, 1 + fieldLine(split.yaml, 'host'), `host "${host}" is not one of this lab's hosts (${hosts.join(', ')})`);
    const terminal = fm.terminal ?? terminals.find((t) => t.host === host)?.id ?? terminals[0]!.id;
    if (!terminalIds.has(terminal)) problems.add(file, 1 + fieldLine(split.yaml, 'terminal'), `terminal "${terminal}" is not one of this lab's terminals`);
    for (const field of ['check', 'setup', 'solution', 'foreground'] as const) {
      const body = fm[field];
      if (body) checkBashSyntax(body, file, 1 + fieldLine(split.yaml, field), field, problems);
    }
    steps.push({
      index: steps.length, file, title: fm.title, text: split.body, host, terminal,
      check: fm.check, manual: fm.manual, setup: fm.setup, foreground: fm.foreground, solution: fm.solution, hints: fm.hints, timeoutS: fm.timeout,
    });
  }

  if (problems.list.length || !meta) throw new LabInvalid(id, problems.list);
  return {
    id, dir, title: meta.title, description: meta.description, profile: meta.profile,
    durationMinutes: meta.duration, difficulty: meta.difficulty, tags: meta.tags, internet: meta.internet,
    hosts, terminals, intro, finish, steps, files, images: meta.images ?? {}, setup: meta.setup,
  };
}

/** Reads lab.yaml's `files` (each must exist inside the lab folder); their total size is capped. */
function readLabFiles(dir: string, specs: NonNullable<LabYaml['files']>, hosts: Set<string>, labFile: string, labText: string, problems: Problems): LabFile[] {
  const line = fieldLine(labText, 'files');
  const files: LabFile[] = [];
  let total = 0;
  for (const spec of specs) {
    if (spec.host && !hosts.has(spec.host)) problems.add(labFile, line, `files: "${spec.file}" names host "${spec.host}", which this lab does not have`);
    let content: Buffer;
    try {
      content = fs.readFileSync(path.join(dir, spec.file));
    } catch {
      problems.add(labFile, line, `files: ${spec.file} does not exist in the lab folder: add it or remove the entry`);
      continue;
    }
    total += content.length;
    files.push({ file: spec.file, content, to: spec.to.replace(/^~(?=\/|$)/, '/root'), chmod: spec.chmod, host: spec.host });
  }
  if (total > MAX_FILES_BYTES) problems.add(labFile, line, `files: ${(total / 1024 / 1024).toFixed(1)} MiB in all; at most ${MAX_FILES_BYTES / 1024 / 1024} MiB (they are sent into every box at start)`);
  return files;
}

export { NAME };
