// npm run labs -- validate [lab...]   check lab folders, printing file:line: problem
// npm run labs -- test [lab...]       prove every step's check on real sandboxes (fails before, passes after)
// npm run labs -- record <lab...|--all> type every solution into real terminals, recording labs/<id>/walkthrough.cast
// npm run labs -- import <folder> [--id <lab-id>] [--out <labs dir>] [--force]   a Killercoda scenario → labs/<id>
// npm run labs -- dev <lab>            serve one lab with live reload while writing it (docs/authoring.md)
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AsciicastError, markers, parseAsciicast } from '../protocol/asciicast.js';
import { loadConfig } from '../server/config.js';
import { startLabServer } from '../server/lab-server.js';
import { LabInvalid, loadLab, type Lab } from '../server/labs/lab-loader.js';
import { testLab, type StepVerdict } from '../server/labs/lab-tester.js';
import { recordWalkthrough, WALKTHROUGH_FILE } from '../server/labs/walkthrough.js';
import { convertScenario, ScenarioError, writeLab } from '../server/labs/killercoda.js';
import { createLogger } from '../server/log.js';
import { createDockerDriver, type DockerDriver } from '../server/sandbox/driver.js';

const [command, ...args] = process.argv.slice(2);
const config = loadConfig(process.env, { instance: `labs-${crypto.randomBytes(3).toString('hex')}`, pool: { shell: 0, docker: 0, kubernetes: 0 } });

function labIds(): string[] {
  const ids = args.filter((a) => a !== '--all');
  if (ids.length) return ids;
  return fs.readdirSync(config.labsDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
}

function loadAll(): { labs: Lab[]; problems: number } {
  const labs: Lab[] = [];
  let problems = 0;
  for (const id of labIds()) {
    try {
      labs.push(loadLab(config.labsDir, id));
    } catch (err) {
      if (!(err instanceof LabInvalid)) throw err;
      for (const p of err.problems) console.error(`${p.file}:${p.line}: ${p.message}`);
      problems += err.problems.length;
    }
  }
  return { labs, problems };
}

/**
 * A walkthrough that is not a readable asciicast (v1, v2 or v3; the line at fault), or whose step
 * markers no longer match the lab's steps (recorded from an older version).
 */
function staleWalkthrough(lab: Lab): { line: number; problem: string } | undefined {
  const file = path.join(lab.dir, WALKTHROUGH_FILE);
  if (!fs.existsSync(file)) return undefined;
  let labels: string[];
  try {
    labels = markers(parseAsciicast(fs.readFileSync(file, 'utf8'))).map((m) => m.label).filter((l) => /^\d+\. /.test(l));
  } catch (err) {
    if (err instanceof AsciicastError) return { line: err.line, problem: `not a readable recording: ${err.message.replace(/^line \d+: /, '')}` };
    return { line: 1, problem: `not readable (${(err as Error).message})` };
  }
  const want = lab.steps.map((s, i) => `${i + 1}. ${s.title}`);
  return JSON.stringify(labels) === JSON.stringify(want) ? undefined : { line: 1, problem: 'out of date (its step markers do not match the steps)' };
}

async function validate(): Promise<number> {
  const { labs, problems: found } = loadAll();
  let problems = found;
  for (const lab of labs) {
    const stale = staleWalkthrough(lab);
    if (stale) {
      console.error(`${lab.id}/${WALKTHROUGH_FILE}:${stale.line}: ${stale.problem}: run npm run labs -- record ${lab.id}`);
      problems++;
      continue;
    }
    console.log(`ok ${lab.id}: ${lab.steps.length} steps, ${lab.hosts.length} host${lab.hosts.length > 1 ? 's' : ''}, profile ${lab.profile}`);
  }
  console.log(problems ? `${problems} problem${problems > 1 ? 's' : ''} found` : `${labs.length} labs valid`);
  return problems ? 1 : 0;
}

/** Runs `each` for every lab on a real engine, counting what it returns; removes every box after. */
async function onSandboxes(labs: Lab[], each: (lab: Lab, driver: DockerDriver, session: string) => Promise<{ passed: number; failed: number; skipped?: number }>): Promise<number> {
  const driver = await createDockerDriver(config, createLogger('warn'), (line) => console.error(line));
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  try {
    for (const lab of labs) {
      const session = `${lab.id.slice(0, 40)}-${crypto.randomBytes(3).toString('hex')}`;
      const counts = await each(lab, driver, session).catch((err: Error) => {
        console.log(`FAIL ${lab.id}: ${err.message}`);
        return { passed: 0, failed: 1, skipped: 0 };
      });
      passed += counts.passed;
      failed += counts.failed;
      skipped += counts.skipped ?? 0;
    }
  } finally {
    await driver.removeLeftovers();
  }
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped (manual steps: nothing to prove)` : ''}`);
  return failed ? 1 : 0;
}

/** Proves every step: its check fails before its solution and passes after. Counts steps. */
async function test(): Promise<number> {
  const { labs, problems } = loadAll();
  if (problems) return 1;
  return onSandboxes(labs, async (lab, driver, session) => {
    const verdicts = await testLab(driver, lab, session, printStep);
    // A skipped (manual) step is printed as such; it counts as neither.
    return { passed: verdicts.filter((v) => v.ok && !v.skipped).length, failed: verdicts.filter((v) => !v.ok).length, skipped: verdicts.filter((v) => v.skipped).length };
  });
}

/** Records each lab's walkthrough; a lab passes when every step's check passed after its typed solution. Counts labs. */
async function record(): Promise<number> {
  if (!args.length) {
    console.error('usage: npm run labs -- record <lab...> | record --all');
    return 2;
  }
  const { labs, problems } = loadAll();
  if (problems) return 1;
  return onSandboxes(labs, async (lab, driver, session) => {
    const out = path.join(lab.dir, WALKTHROUGH_FILE);
    const started = Date.now();
    const result = await recordWalkthrough(driver, lab, { out, session, onStep: printStep, format: config.recordingFormat });
    const took = `${((Date.now() - started) / 1000).toFixed(1)} s`;
    if (!result.ok) {
      console.log(`FAIL ${lab.id}: ${path.relative(process.cwd(), out)} left as it was (${took})`);
      return { passed: 0, failed: 1 };
    }
    console.log(`ok   ${lab.id}: wrote ${path.relative(process.cwd(), out)} (${result.durationS.toFixed(1)} s of playback, ${(result.bytes / 1024).toFixed(1)} KB) in ${took}`);
    return { passed: 1, failed: 0 };
  });
}

/** Converts a Killercoda scenario folder into a lab folder, says what it could not carry over, then validates the result. */
async function importScenario(): Promise<number> {
  const usage = 'usage: npm run labs -- import <scenario folder> [--id <lab-id>] [--out <labs dir>] [--force]';
  const options = new Map<string, string>();
  const folders: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--force') options.set('force', '1');
    else if (a === '--id' || a === '--out') options.set(a.slice(2), args[++i] ?? '');
    else folders.push(a);
  }
  if (folders.length !== 1 || options.get('id') === '' || options.get('out') === '') {
    console.error(usage);
    return 2;
  }
  const out = path.resolve(options.get('out') ?? config.labsDir);
  try {
    const lab = convertScenario(folders[0]!, { id: options.get('id') });
    const dir = writeLab(out, lab, { force: options.has('force') });
    for (const w of lab.warnings) console.error(`warning: ${w}`);
    const shown = path.relative(process.cwd(), dir).startsWith('..') ? dir : path.relative(process.cwd(), dir);
    console.log(`wrote ${shown}: profile ${lab.profile}, ${[...lab.files.keys()].filter((f) => f.startsWith('steps/')).length} steps, ${lab.warnings.length} warning${lab.warnings.length === 1 ? '' : 's'} (also in IMPORT-NOTES.md)`);
    loadLab(out, lab.id);
    const env = out === path.resolve(config.labsDir) ? '' : `TERMLAB_LABS_DIR=${out} `;
    console.log(`ok ${lab.id}: valid. Next: ${env}npm run labs -- test ${lab.id}`);
    return 0;
  } catch (err) {
    if (err instanceof ScenarioError) console.error(err.message);
    else if (err instanceof LabInvalid) for (const p of err.problems) console.error(`${p.file}:${p.line}: ${p.message}`);
    else throw err;
    return 1;
  }
}

/**
 * Serves one lab with live reload until Ctrl-C: the usual server (its settings from the environment,
 * PORT and HOST included), restricted to the lab, its folder watched. Edits reach the open page
 * without losing its terminal (server/labs/lab-dev.ts).
 */
async function dev(): Promise<number> {
  if (args.length !== 1) {
    console.error('usage: npm run labs -- dev <lab>');
    return 2;
  }
  const id = args[0]!;
  let lab: Lab;
  try {
    lab = loadLab(config.labsDir, id);
  } catch (err) {
    if (!(err instanceof LabInvalid)) throw err;
    for (const p of err.problems) console.error(`${p.file}:${p.line}: ${p.message}`);
    console.error(`${id} does not load: fix the problems above, then run npm run labs -- dev ${id} again`);
    return 1;
  }
  // One pre-started box of the lab's profile: "End lab" then Start again (after a change to hosts or terminals) is quick.
  const devConfig = loadConfig(process.env, { devLab: id, pool: { shell: 0, docker: 0, kubernetes: 0, [lab.profile]: 1 } });
  const say = (line: string) => process.stderr.write(`termlab dev: ${line.replace(/^termlab: /, '')}\n`);
  const server = await startLabServer(devConfig, createLogger(devConfig.logLevel === 'info' ? 'warn' : devConfig.logLevel), say, { devReport: say });
  say(`serving ${id} with live reload: open ${server.url}/?start=${id} (it starts the lab; a reload of that tab keeps its session). ` +
    `Edits in ${path.relative(process.cwd(), lab.dir) || lab.dir} reach the open page; Ctrl-C stops and removes the boxes`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) process.exit(130);
      stopping = true;
      say('stopping: removing the boxes (Ctrl-C again to force)');
      server.stop().then(() => resolve(0), (err: Error) => { console.error(err); resolve(1); });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

function printStep(v: StepVerdict): void {
  if (v.skipped) {
    console.log(`skip ${v.lab} step ${v.step} "${v.title}" (${(v.ms / 1000).toFixed(1)} s): ${v.detail}`);
    return;
  }
  console.log(`${v.ok ? 'ok  ' : 'FAIL'} ${v.lab} step ${v.step} "${v.title}" (${(v.ms / 1000).toFixed(1)} s): ${v.detail}`);
}

const commands: Record<string, () => Promise<number>> = { validate, test, record, import: importScenario, dev };
const run = command ? commands[command] : undefined;
if (!run) {
  console.error('usage: npm run labs -- validate [lab...] | test [lab...] | record <lab...|--all> | import <scenario folder> [--id <lab-id>] [--out <labs dir>] [--force] | dev <lab>');
  process.exit(2);
}
process.exit(await run());
