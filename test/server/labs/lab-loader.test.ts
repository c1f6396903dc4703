// The validator: each kind of malformed lab gets its own error, naming the file and line.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { LabInvalid, loadLab } from '../../../server/labs/lab-loader.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'termlab-labs-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const GOOD_META = 'title: T\ndescription: D\nprofile: shell\n';
const GOOD_STEP = `---
title: One
check: |
  test -f /x || { echo "no /x"; exit 1; }
solution: |
  touch /x
hints:
  - touch it
---
Do it:

\`\`\`bash exec
touch /x
\`\`\`
`;

let n = 0;
/** Writes a lab from a map of relative path to content (undefined leaves the file out). */
function lab(files: Record<string, string | undefined>): string {
  const id = `lab-${++n}`;
  const all: Record<string, string | undefined> = { 'lab.yaml': GOOD_META, 'intro.md': '# Intro\n', 'finish.md': '# Done\n', 'steps/01-one.md': GOOD_STEP, ...files };
  for (const [rel, text] of Object.entries(all)) {
    if (text === undefined) continue;
    fs.mkdirSync(path.dirname(path.join(root, id, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, id, rel), text);
  }
  return id;
}

function problems(id: string): string[] {
  try {
    loadLab(root, id);
  } catch (err) {
    assert.ok(err instanceof LabInvalid, String(err));
    return err.problems.map((p) => `${p.file}:${p.line}: ${p.message}`);
  }
  return [];
}

function expectProblem(id: string, pattern: RegExp): void {
  const found = problems(id);
  assert.ok(found.some((p) => pattern.test(p)), `expected ${pattern} in:\n${found.join('\n') || '(no problems)'}`);
}

test('a well-formed lab loads with its defaults', () => {
  const l = loadLab(root, lab({}));
  assert.deepEqual(l.hosts, ['lab']);
  assert.deepEqual(l.terminals, [{ id: 'main', host: 'lab', title: 'lab' }]);
  assert.equal(l.steps[0]!.timeoutS, 15);
  assert.match(l.steps[0]!.text, /^Do it:/);
});

test('lab.yaml: bad YAML, missing fields, wrong values and unknown fields', () => {
  expectProblem(lab({ 'lab.yaml': 'title: T\ndescription: [unclosed\n' }), /lab\.yaml:[23]: YAML:/);
  expectProblem(lab({ 'lab.yaml': 'title: T\nprofile: shell\n' }), /lab\.yaml:\d+: description: is required/);
  expectProblem(lab({ 'lab.yaml': `${GOOD_META}duration: soon\n` }), /lab\.yaml:4: duration: /);
  expectProblem(lab({ 'lab.yaml': 'title: T\ndescription: D\nprofile: windows\n' }), /lab\.yaml:3: profile: /);
  expectProblem(lab({ 'lab.yaml': `${GOOD_META}colour: blue\n` }), /lab\.yaml:4: unknown field "colour"/);
  expectProblem(lab({ 'lab.yaml': undefined }), /lab\.yaml:1: lab\.yaml is missing/);
});

test('hosts and terminals must agree', () => {
  expectProblem(lab({ 'lab.yaml': `${GOOD_META}hosts:\n  - name: a\n  - name: a\n` }), /hosts: "a" is named twice/);
  expectProblem(lab({ 'lab.yaml': `${GOOD_META}hosts:\n  - name: a\nterminals:\n  - id: t\n    host: b\n` }), /lab\.yaml:6: terminals: "t" is on host "b", which is not in hosts/);
  expectProblem(lab({ 'lab.yaml': `${GOOD_META}hosts:\n  - name: Bad_Name\n` }), /lab\.yaml:5: hosts\.0\.name: must be lowercase/);
});

test('steps: front matter, required fields, bash syntax, code blocks and port links', () => {
  expectProblem(lab({ 'steps/01-one.md': 'no front matter\n' }), /01-one\.md:1: a step file starts with front matter/);
  expectProblem(lab({ 'steps/01-one.md': GOOD_STEP.replace(/solution:[\s\S]*?hints:/, 'hints:') }), /01-one\.md:\d+: solution: is required/);
  expectProblem(lab({ 'steps/01-one.md': GOOD_STEP.replace('  - touch it\n', '') }), /01-one\.md:\d+: hints: /);
  expectProblem(lab({ 'steps/01-one.md': GOOD_STEP.replace('touch /x\nhints', 'if true; then touch /x\nhints') }), /01-one\.md:7: solution: bash syntax error: syntax error: unexpected end of file/);
  expectProblem(lab({ 'steps/01-one.md': GOOD_STEP.replace('```bash exec', '```bash exec terminal=nope') }), /01-one\.md:12: code block: terminal "nope" is not one of this lab's terminals/);
  expectProblem(lab({ 'steps/01-one.md': GOOD_STEP.replace('```bash exec', '```bash exce') }), /01-one\.md:12: code block: unknown action "exce"/);
  expectProblem(lab({ 'steps/01-one.md': `${GOOD_STEP}\n[site](port://99999)\n` }), /01-one\.md:\d+: port link "port:\/\/99999"/);
  expectProblem(lab({ 'steps/01-one.md': `${GOOD_STEP}\n[site](port://elsewhere:80/)\n` }), /port link names host "elsewhere"/);
  expectProblem(lab({ 'steps/01-one.md': GOOD_STEP.replace('title: One', 'title: One\nhost: nowhere') }), /01-one\.md:3: host "nowhere" is not one of this lab's hosts/);
  expectProblem(lab({ 'steps/01-one.md': `${GOOD_STEP}\n\`\`\`bash\nunclosed\n` }), /a code block is not closed/);
  expectProblem(lab({ 'steps/01-one.md': undefined }), /steps:1: a lab needs steps/);
  expectProblem(lab({ 'intro.md': undefined }), /intro\.md:1: the intro page is missing/);
});

test('manual steps, foreground, files, image aliases and a lab setup', () => {
  const manual = GOOD_STEP.replace(/check:[\s\S]*?solution:/, 'manual: true\nforeground: |\n  cd /tmp\nsolution:');
  const id = lab({
    'steps/01-one.md': manual,
    'assets/run.sh': 'echo hi\n',
    'lab.yaml': 'title: T\ndescription: D\nprofile: docker\nfiles:\n  - file: assets/run.sh\n    to: ~/bin\n    chmod: +x\nimages:\n  nginx:alpine: web:latest\nsetup: |\n  mkdir -p /srv\n',
  });
  const l = loadLab(root, id);
  assert.equal(l.steps[0]!.manual, true);
  assert.equal(l.steps[0]!.check, undefined);
  assert.equal(l.steps[0]!.foreground, 'cd /tmp');
  assert.deepEqual(l.files.map((f) => ({ ...f, content: f.content.toString() })), [{ file: 'assets/run.sh', content: 'echo hi\n', to: '/root/bin', chmod: '+x', host: undefined }]);
  assert.deepEqual(l.images, { 'nginx:alpine': 'web:latest' });
  assert.equal(l.setup, 'mkdir -p /srv');

  // A step is either checked or manual, never neither nor both.
  expectProblem(lab({ 'steps/01-one.md': GOOD_STEP.replace(/check:[\s\S]*?solution:/, 'solution:') }), /01-one\.md:\d+: check: is required \(or set manual: true/);
  expectProblem(lab({ 'steps/01-one.md': GOOD_STEP.replace('title: One', 'title: One\nmanual: true') }), /01-one\.md:\d+: manual: a manual step has no check/);
  expectProblem(lab({ 'steps/01-one.md': GOOD_STEP.replace('title: One', 'title: One\nforeground: |\n  if true; then') }), /foreground: bash syntax error/);
  // Files must exist in the folder and stay inside it; aliases only where there is an engine, to images a box has.
  expectProblem(lab({ 'lab.yaml': `${GOOD_META}files:\n  - file: assets/none.sh\n    to: /usr/local/bin\n` }), /lab\.yaml:4: files: assets\/none\.sh does not exist in the lab folder/);
  expectProblem(lab({ 'lab.yaml': `${GOOD_META}files:\n  - file: ../x\n    to: /tmp\n` }), /files\.0\.file: must be a path inside the lab folder/);
  expectProblem(lab({ 'lab.yaml': `${GOOD_META}files:\n  - file: a\n    to: relative\n` }), /files\.0\.to: must be an absolute folder/);
  expectProblem(lab({ 'lab.yaml': `${GOOD_META}images:\n  nginx:alpine: web:latest\n` }), /lab\.yaml:4: images: only docker labs have an engine/);
  expectProblem(lab({ 'lab.yaml': 'title: T\ndescription: D\nprofile: docker\nimages:\n  nginx:alpine: nginx:alpine\n' }), /images\.nginx:alpine: must be one of the images a box has: busybox:latest, web:latest, registry:2/);
  expectProblem(lab({ 'lab.yaml': `${GOOD_META}setup: |\n  if true; then\n` }), /lab\.yaml:\d+: setup: bash syntax error/);
});

test('every problem is reported at once', () => {
  const found = problems(lab({ 'lab.yaml': 'title: T\nprofile: nope\n', 'finish.md': undefined }));
  assert.ok(found.length >= 3, found.join('\n'));
});

test('the labs shipped in labs/ are all valid', () => {
  const labsDir = path.resolve(import.meta.dirname, '../../../labs');
  for (const id of fs.readdirSync(labsDir)) {
    if (fs.statSync(path.join(labsDir, id)).isDirectory()) assert.doesNotThrow(() => loadLab(labsDir, id), id);
  }
});
