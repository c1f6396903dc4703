// npm run labs -- validate [lab...]   check lab folders, printing file:line: problem
// npm run labs -- test [lab...]       prove every step's check on real sandboxes (fails before, passes after)
import crypto from 'node:crypto';
import fs from 'node:fs';
import { loadConfig } from '../server/config.js';
import { LabInvalid, loadLab, type Lab } from '../server/labs/lab-loader.js';
import { testLab } from '../server/labs/lab-tester.js';
import { createLogger } from '../server/log.js';
import { createDockerDriver } from '../server/sandbox/driver.js';

const [command, ...args] = process.argv.slice(2);
const config = loadConfig(process.env, { instance: `labs-${crypto.randomBytes(3).toString('hex')}`, pool: { shell: 0, docker: 0 } });

function labIds(): string[] {
  if (args.length) return args;
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

async function validate(): Promise<number> {
  const { labs, problems } = loadAll();
  for (const lab of labs) console.log(`ok ${lab.id}: ${lab.steps.length} steps, ${lab.hosts.length} host${lab.hosts.length > 1 ? 's' : ''}, profile ${lab.profile}`);
  console.log(problems ? `${problems} problem${problems > 1 ? 's' : ''} found` : `${labs.length} labs valid`);
  return problems ? 1 : 0;
}

async function test(): Promise<number> {
  const { labs, problems } = loadAll();
  if (problems) return 1;
  const log = createLogger('warn');
  const driver = await createDockerDriver(config, log, (line) => console.error(line));
  let passed = 0;
  let failed = 0;
  try {
    for (const lab of labs) {
      const session = `${lab.id.slice(0, 40)}-${crypto.randomBytes(3).toString('hex')}`;
      try {
        await testLab(driver, lab, session, (v) => {
          console.log(`${v.ok ? 'ok  ' : 'FAIL'} ${v.lab} step ${v.step} "${v.title}" (${(v.ms / 1000).toFixed(1)} s): ${v.detail}`);
          if (v.ok) passed++; else failed++;
        });
      } catch (err) {
        console.log(`FAIL ${lab.id}: could not start its boxes: ${(err as Error).message}`);
        failed++;
      }
    }
  } finally {
    await driver.removeLeftovers();
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

const commands: Record<string, () => Promise<number>> = { validate, test };
const run = command ? commands[command] : undefined;
if (!run) {
  console.error('usage: npm run labs -- validate [lab...] | test [lab...]');
  process.exit(2);
}
process.exit(await run());
