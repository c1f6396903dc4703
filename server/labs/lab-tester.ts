// Proves a lab on real sandboxes: for every step, its check must FAIL on the state before the step
// and PASS after the step's solution. A check that cannot fail is a defect.
import type { BoxHandle, SandboxDriver } from '../sessions/sandbox-driver.js';
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

async function proveStep(driver: SandboxDriver, boxes: Map<string, BoxHandle>, lab: Lab, step: LabStep): Promise<{ ok: boolean; skipped?: boolean; detail: string }> {
  const box = boxes.get(step.host)!;
  if (step.setup) {
    const setup = await driver.runScript(box, step.setup, SOLUTION_TIMEOUT_MS);
    if (setup.exitCode !== 0) return { ok: false, detail: `setup failed (exit ${setup.exitCode}): ${firstLine(setup.output)}` };
  }
  if (step.check === undefined) {
    // Nothing to prove, but later steps expect this one's state: its solution must still work.
    const solution = await driver.runScript(box, step.solution, SOLUTION_TIMEOUT_MS);
    if (solution.exitCode !== 0) return { ok: false, detail: `manual step: its solution failed (exit ${solution.exitCode}): ${firstLine(solution.output)}` };
    return { ok: true, skipped: true, detail: 'skipped: a manual step has no check to prove (its solution ran)' };
  }
  const before = await driver.runScript(box, step.check, step.timeoutS * 1000);
  if (before.timedOut) return { ok: false, detail: `check timed out after ${step.timeoutS} s before the solution` };
  if (before.exitCode === 0) return { ok: false, detail: 'check passes BEFORE the solution ran: it cannot fail, so it proves nothing' };
  if (!before.output.trim()) return { ok: false, detail: 'check fails before the solution but prints nothing: the learner would get no feedback' };
  const solution = await driver.runScript(box, step.solution, SOLUTION_TIMEOUT_MS);
  if (solution.exitCode !== 0) return { ok: false, detail: `solution failed (exit ${solution.exitCode}): ${firstLine(solution.output)}` };
  const after = await driver.runScript(box, step.check, step.timeoutS * 1000);
  if (after.exitCode !== 0) return { ok: false, detail: `check FAILS after the solution (exit ${after.exitCode}): ${firstLine(after.output)}` };
  return { ok: true, detail: `fails before ("${firstLine(before.output, 70)}"), passes after` };
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
        result = await proveStep(driver, boxes, lab, step);
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
