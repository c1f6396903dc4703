// Proves a lab on real sandboxes: for every step, its check must FAIL on the state before the step
// and PASS after the step's solution. A check that cannot fail is a defect.
import type { BoxHandle, SandboxDriver } from '../sandbox/sandbox-driver.js';
import { createLabBoxes, destroyLabBoxes, startLab } from './lab-boxes.js';
import type { Lab, LabStep } from './lab-loader.js';

export interface StepVerdict {
  lab: string;
  step: number;
  title: string;
  ok: boolean;
  /** A manual step: nothing to prove (its solution still ran, so later steps start from its state). */
  skipped?: boolean;
  /** What went wrong, or a short account of what passed. */
  detail: string;
  ms: number;
}

const SOLUTION_TIMEOUT_MS = 120_000;

function firstLine(text: string, max = 160): string {
  const line = text.split('\n').find((l) => l.trim()) ?? '';
  return line.length > max ? `${line.slice(0, max)}...` : line;
}

/** Runs the step's setup, if it has one; says why it failed, if it did. */
async function runStepSetup(driver: SandboxDriver, box: BoxHandle, step: LabStep): Promise<string | undefined> {
  if (!step.setup) return undefined;
  const setup = await driver.runScript(box, step.setup, SOLUTION_TIMEOUT_MS);
  return setup.exitCode === 0 ? undefined : `setup failed (exit ${setup.exitCode}): ${firstLine(setup.output)}`;
}

/** Runs the step's solution, then its check (a manual step has none), which must pass; says why not, if not. */
async function solveStep(driver: SandboxDriver, box: BoxHandle, step: LabStep): Promise<string | undefined> {
  const solution = await driver.runScript(box, step.solution, SOLUTION_TIMEOUT_MS);
  if (solution.exitCode !== 0) return `${step.check === undefined ? 'manual step: its ' : ''}solution failed (exit ${solution.exitCode}): ${firstLine(solution.output)}`;
  if (step.check === undefined) return undefined;
  const after = await driver.runScript(box, step.check, step.timeoutS * 1000);
  if (after.timedOut) return `check timed out after ${step.timeoutS} s after the solution`;
  return after.exitCode === 0 ? undefined : `check FAILS after the solution (exit ${after.exitCode}): ${firstLine(after.output)}`;
}

async function proveStep(driver: SandboxDriver, boxes: Map<string, BoxHandle>, step: LabStep): Promise<{ ok: boolean; skipped?: boolean; detail: string }> {
  const box = boxes.get(step.host)!;
  const setupFailed = await runStepSetup(driver, box, step);
  if (setupFailed) return { ok: false, detail: setupFailed };
  if (step.check === undefined) {
    // Nothing to prove, but later steps expect this one's state: its solution must still work.
    const failed = await solveStep(driver, box, step);
    return failed ? { ok: false, detail: failed } : { ok: true, skipped: true, detail: 'skipped: a manual step has no check to prove (its solution ran)' };
  }
  const before = await driver.runScript(box, step.check, step.timeoutS * 1000);
  if (before.timedOut) return { ok: false, detail: `check timed out after ${step.timeoutS} s before the solution` };
  if (before.exitCode === 0) return { ok: false, detail: 'check passes BEFORE the solution ran: it cannot fail, so it proves nothing' };
  if (!before.output.trim()) return { ok: false, detail: 'check fails before the solution but prints nothing: the learner would get no feedback' };
  const failed = await solveStep(driver, box, step);
  return failed ? { ok: false, detail: failed } : { ok: true, detail: `fails before ("${firstLine(before.output, 70)}"), passes after` };
}

/**
 * Brings a box through one step the way `labs test` does, minus proving the check can fail: its
 * setup, its solution, then its check, which must pass. A resumed lab (lab-runner.ts) replays the
 * steps a learner had passed with it, so the next step finds the state it builds on. Resolves with
 * why it failed, or undefined.
 */
export async function replayStep(driver: SandboxDriver, boxes: Map<string, BoxHandle>, step: LabStep): Promise<string | undefined> {
  const box = boxes.get(step.host)!;
  try {
    return (await runStepSetup(driver, box, step)) ?? (await solveStep(driver, box, step));
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}

/** Runs every step of the lab in order on fresh boxes, reporting each verdict as it comes. */
export async function testLab(driver: SandboxDriver, lab: Lab, session: string, onStep: (v: StepVerdict) => void): Promise<StepVerdict[]> {
  const verdicts: StepVerdict[] = [];
  const boxes = await createLabBoxes(driver, lab, session);
  try {
    await startLab(driver, lab, boxes);
    for (const step of lab.steps) {
      const started = Date.now();
      let result: { ok: boolean; skipped?: boolean; detail: string };
      try {
        result = await proveStep(driver, boxes, step);
      } catch (err) {
        result = { ok: false, detail: `error: ${(err as Error).message}` };
      }
      const verdict = { lab: lab.id, step: step.index + 1, title: step.title, ...result, ms: Date.now() - started };
      verdicts.push(verdict);
      onStep(verdict);
    }
  } finally {
    await destroyLabBoxes(driver, boxes);
  }
  return verdicts;
}
