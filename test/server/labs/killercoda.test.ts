// Killercoda scenarios imported as termlab labs: the exact files the import writes for the three
// fixtures in test/fixtures/killercoda/, the warnings it gives, the errors bad scenarios get, and on
// real boxes: every imported step's check fails before its solution and passes after (like
// `npm run labs -- test`), and a live session runs the lab's start and treats a manual step as one.
//   node --import tsx --test --test-concurrency=1 --test-timeout=600000 test/server/labs/killercoda.test.ts
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { LabContent, LabProgress } from '../../../protocol/api.js';
import { loadConfig, type Config } from '../../../server/config.js';
import { dockerImagesIn, planImages, podImagesIn } from '../../../server/labs/killercoda-images.js';
import { convertMarkdown } from '../../../server/labs/killercoda-markdown.js';
import { convertScenario, ScenarioError, writeLab, type ImportedLab } from '../../../server/labs/killercoda.js';
import { loadLab } from '../../../server/labs/lab-loader.js';
import { testLab, type StepVerdict } from '../../../server/labs/lab-tester.js';
import type { LabServer } from '../../../server/lab-server.js';
import { createLogger } from '../../../server/log.js';
import { createDockerDriver, type DockerDriver } from '../../../server/sandbox/driver.js';
import { startTestServer, stopAndListLeftovers, testInstance } from '../../helpers/lab-server.js';
import { ProtocolClient } from '../../helpers/protocol-client.js';

const FIXTURES = path.resolve(import.meta.dirname, '..', '..', 'fixtures', 'killercoda');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-killercoda-'));
const labsDir = path.join(work, 'labs');
after(() => fs.rmSync(work, { recursive: true, force: true }));

const imported = (name: string): ImportedLab => convertScenario(path.join(FIXTURES, name));
const text = (lab: ImportedLab, file: string): string => {
  const content = lab.files.get(file);
  assert.ok(content !== undefined, `${file} is not among ${[...lab.files.keys()].join(', ')}`);
  return content.toString();
};

/** A scenario written into a temp folder from relative path → content. */
function scenario(files: Record<string, string | Buffer>): string {
  const dir = fs.mkdtempSync(path.join(work, 'scenario-'));
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

function importError(dir: string): string {
  try {
    convertScenario(dir);
  } catch (err) {
    assert.ok(err instanceof ScenarioError, String(err));
    return err.message;
  }
  assert.fail('the import should have failed');
}

const CHECK_TAIL = `  ); then exit 0; fi
  echo "Not done yet: this step's check does not pass. Do what the step asks (the Run buttons), then check again."
  exit 1`;

describe('conversion', () => {
  test('a shell scenario: assets with chmod, intro background and foreground, verify, solutions, {{exec}}/{{copy}}/{{exec interrupt}}', () => {
    const lab = imported('shell-files');
    assert.equal(lab.id, 'shell-files');
    assert.equal(lab.profile, 'shell');
    assert.deepEqual(lab.warnings, []);
    assert.deepEqual([...lab.files.keys()].sort(), [
      'IMPORT-NOTES.md', 'assets/greet.sh', 'assets/notes/name.txt', 'assets/notes/todo.txt', 'finish.md', 'intro.md', 'lab.yaml',
      'steps/01-make-a-work-folder.md', 'steps/02-run-the-greeting-script.md',
    ]);
    assert.equal(text(lab, 'assets/greet.sh'), fs.readFileSync(path.join(FIXTURES, 'shell-files/assets/greet.sh'), 'utf8'));
    assert.equal(text(lab, 'lab.yaml'), `# Imported from a Killercoda scenario by \`npm run labs -- import\`: see IMPORT-NOTES.md.
title: Files, scripts and logs
description: Make a work folder, run a script shipped with the scenario and follow a log.
profile: shell
duration: 10
difficulty: beginner
tags:
  - killercoda
files:
  - file: assets/greet.sh
    to: /usr/local/bin
    chmod: +x
  - file: assets/notes/name.txt
    to: ~/notes
  - file: assets/notes/todo.txt
    to: ~/notes
setup: |-
  mkdir -p /var/log/demo
  echo "service started" > /var/log/demo/app.log
`);
    // Step 1: verify wrapped so a failure says something; the intro's foreground comes first; the
    // solution from step1/solution.sh; a fenced {{exec}} becomes "bash exec", inline {{copy}}/{{}} plain code.
    assert.equal(text(lab, 'steps/01-make-a-work-folder.md'), `---
title: Make a work folder
check: |-
  # step1/verify.sh from the Killercoda scenario: exit 0 passes.
  if (
  [ -d /root/work ]
${CHECK_TAIL}
foreground: cd /root
solution: mkdir -p /root/work
hints:
  - Run the commands marked Run in this step, in order.
  - Show me types the whole solution into the terminal.
---
Make a folder for your work:

\`\`\`bash exec
mkdir -p /root/work
\`\`\`

List it to see it is there: \`ls -ld /root/work\`

The notes shipped with this scenario are in \`~/notes\`.
`);
    // Step 2: background → setup, foreground, the solution from assets/step2-solution.sh (the
    // {{exec}} commands include a tail -f that never ends), inline exec alone on its line → a block.
    assert.equal(text(lab, 'steps/02-run-the-greeting-script.md'), `---
title: Run the greeting script
check: |-
  # step2/verify.sh from the Killercoda scenario: exit 0 passes.
  if (
  grep -q "Hello from the scenario" /root/work/greeting.txt
${CHECK_TAIL}
setup: echo "greeting requested" >> /var/log/demo/app.log
foreground: clear
solution: greet.sh > /root/work/greeting.txt
hints:
  - Run the commands marked Run in this step, in order.
  - Show me types the whole solution into the terminal.
---
The scenario put a script called \`greet.sh\` in \`/usr/local/bin\`. Run it and keep what it says:

\`\`\`bash exec
greet.sh > /root/work/greeting.txt
\`\`\`

Follow the service's log for a moment:

\`\`\`bash exec
tail -f /var/log/demo/app.log
\`\`\`

Then stop following it:

\`\`\`bash exec interrupt
cat /root/work/greeting.txt
\`\`\`
`);
    assert.equal(text(lab, 'intro.md'), '# Files, scripts and logs\n\nA tiny tour of the shell: a folder, a script and a log file.\n');
    assert.equal(text(lab, 'finish.md'), '# Done\n\nYou made a folder, ran a script and followed a log.\n');
    assert.match(text(lab, 'IMPORT-NOTES.md'), /- nothing: every field was carried over\./);
  });

  test('a docker scenario: nginx:alpine gets an alias, an unknown image is named, traffic links become port links', () => {
    const lab = imported('docker-web');
    assert.equal(lab.profile, 'docker');
    assert.deepEqual(lab.warnings, [
      'image nginx:alpine (step1.md) is stood in for by web:latest: a busybox httpd serving a page on port 80 (lab.yaml images: change it there)',
      'image redis:7 (step1.md) is not in the box and has no stand-in: there is no registry, so commands using it fail. Add it to lab.yaml images: with one of busybox:latest, web:latest, registry:2, or change the scenario\'s commands',
    ]);
    assert.equal(text(lab, 'lab.yaml'), `# Imported from a Killercoda scenario by \`npm run labs -- import\`: see IMPORT-NOTES.md.
title: A web server in a container
description: Run nginx in a container, reach it, then stop it.
profile: docker
tags:
  - killercoda
images:
  nginx:alpine: web:latest
`);
    assert.equal(text(lab, 'intro.md'), 'Containers in one go: start a web server, ask it for a page, stop it.\n\n' +
      '> Imported from a Killercoda scenario, with differences: the image nginx:alpine is stood in for by termlab\'s web:latest (there is no registry).\n');
    const step1 = text(lab, 'steps/01-start-nginx.md');
    assert.match(step1, /^solution: docker run -d --name web -p 8080:80 nginx:alpine$/m, 'no solution file: the {{exec}} commands are the solution');
    assert.match(step1, /^\[See the page\]\(port:\/\/8080\)$/m);
    assert.match(step1, /^```\ndocker run -d --name cache redis:7\n```$/m, 'a {{copy}} block stays a plain block (every block has Copy)');
    assert.match(text(lab, 'steps/02-stop-it.md'), /^```bash exec\ndocker stop web\n```$/m);
    assert.match(text(lab, 'IMPORT-NOTES.md'), /^- image redis:7 \(step1\.md\) is not in the box/m);
  });

  test('unsupported features are named, a step without verify becomes manual, two nodes become one', () => {
    const lab = imported('k8s-manual');
    assert.equal(lab.profile, 'kubernetes');
    assert.deepEqual(lab.warnings, [
      'environment (uilayout, showdashboard) is not supported (left out)',
      'details.intro.code is not supported (left out)',
      'details.finish background/foreground are not supported: termlab runs nothing after the last step (left out)',
      'details.assets.node01: only host01\'s assets are copied (an imported lab has one host)',
      'step1/text.md:5: placeholder {{TRAFFIC_SELECTOR}} is not supported (left as text)',
      'step 1 "Look at the nodes": no verify, so it becomes a manual step (the learner presses "Done, next step"; `labs test` cannot prove it)',
      'backend.imageid kubernetes-kubeadm-2nodes: 2 nodes become one (termlab\'s kubernetes box is a single-node cluster; node01 does not exist)',
    ]);
    assert.equal(text(lab, 'steps/01-look-at-the-nodes.md'), `---
title: Look at the nodes
manual: true
solution: kubectl get nodes
hints:
  - 'This step is not checked: when you have done it, press "Done, next step".'
---
List the nodes of the cluster:

\`\`\`bash exec
kubectl get nodes
\`\`\`

Open the dashboard with {{TRAFFIC_SELECTOR}}.
`);
    assert.match(text(lab, 'intro.md'), /> Imported from a Killercoda scenario, with differences: the cluster has one node, not 2/);
    assert.ok(![...lab.files.keys()].some((f) => f.startsWith('assets/')), 'node01\'s asset is not copied');
    const notes = text(lab, 'IMPORT-NOTES.md');
    for (const w of lab.warnings) assert.ok(notes.includes(`- ${w}`), `IMPORT-NOTES.md lists: ${w}`);
  });

  test('the written labs validate like any other, and an existing folder is not replaced without --force', () => {
    for (const name of ['shell-files', 'docker-web', 'k8s-manual']) {
      writeLab(labsDir, imported(name), { force: true });
      const lab = loadLab(labsDir, name);
      assert.equal(lab.steps.length, 2);
    }
    const shell = loadLab(labsDir, 'shell-files');
    assert.deepEqual(shell.files.map((f) => [f.file, f.to, f.chmod]), [
      ['assets/greet.sh', '/usr/local/bin', '+x'], ['assets/notes/name.txt', '/root/notes', undefined], ['assets/notes/todo.txt', '/root/notes', undefined],
    ]);
    assert.equal(shell.steps[0]!.foreground, 'cd /root');
    assert.equal(loadLab(labsDir, 'k8s-manual').steps[0]!.manual, true);
    assert.throws(() => writeLab(labsDir, imported('shell-files')), /shell-files already exists: pass --force to replace it, or --id <name>/);
    const other = convertScenario(path.join(FIXTURES, 'shell-files'), { id: 'files-again' });
    assert.equal(path.basename(writeLab(labsDir, other)), 'files-again');
    assert.deepEqual(fs.readdirSync(labsDir).filter((f) => f.startsWith('.')), [], 'no temporary folder left');
  });

  test('bad scenarios: each error names the file, what is wrong and what to do', () => {
    const empty = scenario({ 'README.md': 'not a scenario' });
    assert.match(importError(empty), /index\.json: not found: a Killercoda scenario folder has an index\.json \(is .* the scenario's folder, not its parent\?\)/);
    const malformed = scenario({ 'index.json': '{\n  "title": "T",\n  "details": { "steps": [] }\n  "backend": {}\n}\n' });
    assert.match(importError(malformed), /index\.json:4: not valid JSON \(Expected ',' or '}' after property value\): fix it and import again/);
    const noSteps = scenario({ 'index.json': JSON.stringify({ details: { steps: [{ title: 'A' }] } }) });
    assert.match(importError(noSteps), /not a Killercoda scenario index:\n {2}title: is required\n {2}details\.steps\[0\]\.text: is required/);
    const missingVerify = scenario({
      'index.json': JSON.stringify({ title: 'T', details: { steps: [{ title: 'A', text: 'a.md' }, { title: 'B', text: 'b.md', verify: 'step2/verify.sh' }] } }),
      'a.md': 'a', 'b.md': 'b',
    });
    assert.match(importError(missingVerify), /index\.json: details\.steps\[1\]\.verify names "step2\/verify\.sh", which is not in .*: add the file, or remove "verify" from index\.json/);
    const outside = scenario({ 'index.json': JSON.stringify({ title: 'T', details: { steps: [{ title: 'A', text: '../../etc/passwd' }] } }) });
    assert.match(importError(outside), /details\.steps\[0\]\.text names "\.\.\/\.\.\/etc\/passwd", outside the scenario folder/);
    const noAsset = scenario({
      'index.json': JSON.stringify({ title: 'T', details: { steps: [{ title: 'A', text: 'a.md' }], assets: { host01: [{ file: 'gone.sh', target: '/root' }] } } }),
      'a.md': 'a',
    });
    assert.match(importError(noAsset), /details\.assets\.host01\[0\]\.file "gone\.sh" matches no file in .*assets: add it there, or remove the entry/);
    const tooMany = scenario({
      'index.json': JSON.stringify({ title: 'T', details: { steps: Array.from({ length: 13 }, (_, i) => ({ title: `S${i}`, text: 'a.md' })) } }),
      'a.md': 'a',
    });
    assert.match(importError(tooMany), /13 steps; a termlab lab holds at most 12: split the scenario/);
    assert.throws(() => convertScenario(path.join(FIXTURES, 'shell-files'), { id: 'Bad Id' }), /"Bad Id" cannot name a lab: use --id with lowercase letters/);
  });

  test('a verified step with no solution anywhere gets one that fails, and the import says so', () => {
    const dir = scenario({
      'index.json': JSON.stringify({ title: 'T', details: { steps: [{ title: 'Think', text: 'a.md', verify: 'v.sh' }] }, backend: { imageid: 'ubuntu' } }),
      'a.md': 'Think about it.', 'v.sh': 'test -f /tmp/thought',
    });
    const lab = convertScenario(dir, { id: 'think' });
    assert.deepEqual(lab.warnings, ['step 1 "Think": has a verify but no solution (no step1/solution.sh, solutions/step1.sh, assets/solution1.sh, assets/step1-solution.sh, assets/solution.sh, no {{exec}} commands): `labs test` fails on it until you write its solution:']);
    assert.match(text(lab, 'steps/01-think.md'), /solution: \|-\n {2}echo "This imported step has no solution yet: write one in its solution: field\." >&2\n {2}exit 1/);
  });
});

describe('pieces', () => {
  test('Killercoda annotations become termlab code-block actions', () => {
    const md = [
      'Run `echo one`{{exec}} then `echo two`{{execute interrupt}} here.',
      '`date`{{exec T2}}',
      '`plain`{{}} and `x`{{open}}',
      '```yaml',
      'a: {{ .Values.x }}',
      '```{{copy}}',
      '~~~',
      'watch date',
      '~~~{{exec interrupt}}',
      'Visit [it]({{TRAFFIC_HOST1_80}}/path) or {{KATACODA_HOST}}.',
      '![diagram](./assets/diagram.png) ![logo](https://example.com/logo.png)',
    ].join('\n');
    const out = convertMarkdown(md, 'step.md');
    assert.equal(out.markdown, [
      'Run `echo one` then `echo two` here.',
      '',
      '```bash exec', 'echo one', '```',
      '```bash exec interrupt', 'echo two', '```',
      '```bash exec', 'date', '```',
      '`plain` and `x`',
      '```yaml',
      'a: {{ .Values.x }}',
      '```',
      '~~~bash exec interrupt',
      'watch date',
      '~~~',
      'Visit [it](port://80/path) or {{KATACODA_HOST}}.',
      '![diagram](./assets/diagram.png) ![logo](https://example.com/logo.png)',
    ].join('\n'));
    assert.deepEqual(out.execs, ['echo one', 'echo two', 'date', 'watch date']);
    assert.deepEqual(out.warnings, [
      'step.md:2: {{exec T2}}: "T2" is not supported (runs in the lab\'s terminal)',
      'step.md:3: {{open}} is not supported (shown as plain code)',
      'step.md:10: placeholder {{KATACODA_HOST}} is not supported (left as text)',
      'step.md:11: image ./assets/diagram.png is a file of the scenario, which the page cannot show: put it on the web and link to it, or remove it',
    ]);
  });

  test('the images a scenario runs, pulls, builds FROM and makes itself', () => {
    assert.deepEqual(dockerImagesIn('docker run -d --name web -p 8080:80 -e A=1 --rm nginx:alpine sh -c "x"\n' +
      'docker container create -v /a:/b alpine\nsudo docker pull docker.io/library/redis\nFROM golang:1.22 AS build\n' +
      'docker build -t myapp:1 . && docker run myapp:1\ndocker tag web my/web:2\ndocker run --network=host $IMAGE'), {
      used: ['nginx:alpine', 'alpine:latest', 'redis:latest', 'golang:1.22', 'myapp:1'],
      made: ['myapp:1', 'my/web:2'],
    });
    assert.deepEqual(podImagesIn('kubectl run web --image=nginx:1.25\nkubectl create deployment x --image termlab/web:1.0\ncontainers:\n  - name: a\n    image: "redis"\n  - image: busybox:1.36 # pinned'),
      ['nginx:1.25', 'redis:latest', 'busybox:1.36']);
    const plan = planImages(new Map([['nginx:1.25', 'a.md'], ['busybox:latest', 'a.md'], ['registry:2', 'b.md'], ['myapp:1', 'a.md'], ['postgres:16', 'c.sh']]), new Set(['myapp:1']));
    assert.deepEqual(plan.aliases, { 'nginx:1.25': 'web:latest', 'registry:2': 'registry:2' });
    assert.equal(plan.warnings.length, 2);
    assert.ok(plan.warnings[0]!.startsWith('image nginx:1.25 (a.md) is stood in for by web:latest: '), plan.warnings[0]);
    assert.ok(plan.warnings[1]!.startsWith('image postgres:16 (c.sh) is not in the box and has no stand-in: '), plan.warnings[1]);
  });
});

describe('on real boxes', () => {
  let config: Config;
  let driver: DockerDriver;
  before(async () => {
    config = loadConfig(process.env, { instance: testInstance(), pool: { shell: 0, docker: 0, kubernetes: 0 } });
    driver = await createDockerDriver(config, createLogger('warn'), (line) => process.stderr.write(`${line}\n`));
    for (const name of ['shell-files', 'docker-web', 'k8s-manual']) writeLab(labsDir, imported(name), { force: true });
  });
  after(async () => { await driver?.removeLeftovers(); });

  const prove = async (id: string): Promise<StepVerdict[]> => testLab(driver, loadLab(labsDir, id), `kc-${crypto.randomBytes(3).toString('hex')}`, () => {});

  test('shell-files: assets are in place with their mode, each check fails before its solution and passes after', async () => {
    const verdicts = await prove('shell-files');
    assert.deepEqual(verdicts.map((v) => [v.step, v.ok, v.skipped ?? false]), [[1, true, false], [2, true, false]], JSON.stringify(verdicts));
    assert.match(verdicts[0]!.detail, /^fails before \("Not done yet: this step's check does not pass/);
  });

  test('docker-web: nginx:alpine runs as its alias with no registry; both checks proven', async () => {
    const verdicts = await prove('docker-web');
    assert.deepEqual(verdicts.map((v) => [v.step, v.ok]), [[1, true], [2, true]], JSON.stringify(verdicts));
  });

  test('k8s-manual: the manual step is skipped (its solution ran), the checked one proven', async () => {
    const verdicts = await prove('k8s-manual');
    assert.deepEqual(verdicts.map((v) => [v.step, v.ok, v.skipped ?? false]), [[1, true, true], [2, true, false]], JSON.stringify(verdicts));
    assert.equal(verdicts[0]!.detail, 'skipped: a manual step has no check to prove (its solution ran)');
  });
});

describe('in a live session', () => {
  let server: LabServer;
  /** Bigger than one `bash -c` argument may be (128 KiB): it goes into the box in pieces. */
  const big = crypto.randomBytes(300_000);
  before(async () => {
    const dir = scenario({
      'index.json': JSON.stringify({
        title: 'Read the notes', description: 'A manual step, then a checked one.',
        details: {
          intro: { text: 'intro.md', background: 'setup.sh', foreground: 'fg.sh' },
          steps: [{ title: 'Read', text: 'read.md' }, { title: 'Write', text: 'write.md', verify: 'verify.sh' }],
          assets: { host01: [{ file: 'notes.txt', target: '/srv/notes', chmod: '600' }, { file: 'big.bin', target: '/srv' }] },
        },
        backend: { imageid: 'ubuntu' },
      }),
      'intro.md': 'Notes.', 'setup.sh': 'echo ready > /tmp/setup-ran', 'fg.sh': 'cd /srv/notes',
      'read.md': '`cat /srv/notes/notes.txt`{{exec}}', 'write.md': '`touch /tmp/written`{{exec}}', 'verify.sh': 'test -f /tmp/written',
      'assets/notes.txt': 'the notes\n', 'assets/big.bin': big,
    });
    writeLab(labsDir, convertScenario(dir, { id: 'read-notes' }), { force: true });
    server = await startTestServer({ labsDir });
  });
  after(async () => {
    assert.deepEqual(await stopAndListLeftovers(server), [], 'containers left behind');
  });

  test('the lab starts with its files and setup; a manual step waits for the learner, then checks resume', async () => {
    const res = await fetch(`${server.url}/api/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lab: 'read-notes' }) });
    assert.equal(res.status, 201);
    const s = await res.json() as { id: string; token: string };
    const api = (p: string, method = 'GET') => fetch(`${server.url}/api/sessions/${s.id}${p}`, { method, headers: { authorization: `Bearer ${s.token}` } });
    const content = await (await api('/lab')).json() as LabContent;
    assert.deepEqual(content.steps.map((st) => [st.manual ?? false, st.foreground]), [[true, 'cd /srv/notes'], [false, undefined]]);

    const term = await ProtocolClient.open(server.url, s.token);
    const channel = await ProtocolClient.openSession(server.url, s.token);
    const progress = (): LabProgress | undefined => channel.of('lab').at(-1)?.progress;
    await channel.waitFor('first progress', () => progress() !== undefined);
    // The lab's start ran before the first step: the asset with its mode, the intro's background.
    term.type('stat -c "%a %s" /srv/notes/notes.txt; cat /tmp/setup-ran; sha256sum /srv/big.bin\r');
    await term.waitForText(/600 10\r?\nready/);
    await term.waitForText(`${crypto.createHash('sha256').update(big).digest('hex')}  /srv/big.bin`);
    // A finished command does not complete a manual step...
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(progress()!.steps, ['current', 'pending']);
    // ...the learner's own button does; the next step is checked as usual.
    assert.equal((await api('/check', 'POST')).status, 202);
    await channel.waitFor('manual step done', () => progress()?.steps[0] === 'done', 10_000);
    term.type('touch /tmp/written\r');
    await channel.waitFor('checked step done', () => progress()?.finished === true, 10_000);
    term.close();
    channel.close();
  });
});
