// One session's walk through a lab: which step is current, running its setup, and checking it
// whenever the learner finishes a command (or presses Check). A passing check turns the step green
// and moves on; a failing one leaves the check's own words as feedback.
import type { CheckFeedback, LabProgress, StepStatus } from '../../protocol/api.js';
import type { ReplayState } from '../../protocol/history.js';
import type { Logger } from '../log.js';
import type { BoxHandle, SandboxDriver } from '../sandbox/sandbox-driver.js';
import { startLab } from './lab-boxes.js';
import { replayStep } from './lab-tester.js';
import type { Lab } from './lab-loader.js';
import type { ProgressStore } from './progress-store.js';

/** 'reload': live reload (labs dev) re-checks the current step with its new check; its outcome is shown like a button's. */
export type CheckSource = 'command' | 'button' | 'reload';
/** 'ahead': the quiet check of the next step right after a pass (the learner may be ahead). */
type RunSource = CheckSource | 'ahead';

const SETUP_TIMEOUT_MS = 120_000;
/** Checks started by commands are at least this far apart: a learner printing prompt markers in a
 * loop must not turn into a flood of execs on the shared engine. */
const MIN_CHECK_GAP_MS = 300;

export class LabRunner {
  private statuses: StepStatus[];
  private current: number;
  private saving: Promise<void> = Promise.resolve();
  private checking = false;
  private feedback: CheckFeedback | undefined;
  /** A check asked for while one runs: one more runs after it (commands come faster than checks). */
  private again: CheckSource | undefined;
  private running: Promise<void> | undefined;
  private readonly listeners = new Set<(progress: LabProgress) => void>();
  private disposed = false;
  private lastCheckAt = 0;
  /** When the current step became current, and when the learner last pressed Enter. */
  private currentSince = Date.now();
  private enteredAt = 0;
  /**
   * The page types a step's `foreground` into the terminal as the step becomes current: the commands
   * it runs are not the learner's attempt, so that many failing checks after them stay quiet.
   */
  private quietFailures = 0;
  /** A resumed lab: replaying the steps passed before, on this fresh box (checks wait until it is done). */
  private replay: ReplayState | undefined;

  constructor(
    private lab: Lab,
    private readonly session: string,
    private readonly boxes: Map<string, BoxHandle>,
    private readonly driver: SandboxDriver,
    private readonly store: ProgressStore,
    private readonly log: Logger,
    /** Told of every check's outcome (metrics). */
    private readonly onChecked: (passed: boolean, source: string) => void = () => {},
    /** Paced workshops: why this step (0-based) may not be checked yet, or undefined when it may. */
    private gate?: (step: number) => string | undefined,
    /** Continue a learner's attempt: the first this many steps are replayed (their solutions and checks) before the learner types. */
    private readonly resumeAt = 0,
  ) {
    this.statuses = lab.steps.map((_, i) => (i === 0 ? 'current' : 'pending'));
    this.current = 0;
    this.quietFailures = foregroundCommands(lab.steps[this.current]?.foreground);
    const replaying = Math.min(resumeAt, lab.steps.length);
    if (replaying > 0) this.replay = { state: 'running', step: 1, of: replaying, title: lab.steps[0]!.title };
  }

  /**
   * Starts the lab in its boxes (files, image aliases, lab setup), then the first step's setup (the
   * others run as their step comes up). A resumed lab replays instead, after this resolves: the
   * session is handed out at once and its page shows the replay as it goes (progress.replay).
   */
  async start(): Promise<void> {
    if (await this.loadSaved()) this.quietFailures = foregroundCommands(this.lab.steps[this.current]?.foreground);
    // Like a failing step setup, a failing start is logged, not fatal: the learner still gets a shell.
    await startLab(this.driver, this.lab, this.boxes).catch((err: Error) => this.log.error({ session: this.session, lab: this.lab.id, err }, 'lab start failed'));
    if (this.replay) {
      this.running = this.replaySteps(this.replay.of).finally(() => { this.running = undefined; });
      return;
    }
    await this.runSetup(this.current);
    this.persist();
  }

  /** A workshop's pace, for a seat's session this replica adopted (its room is looked up after). */
  setGate(gate: (step: number) => string | undefined): void { this.gate = gate; }

  /**
   * Carries on a session another replica ran (session-records.ts): the boxes are as the learner left
   * them, so nothing is set up or replayed; the steps are where the store says.
   */
  async adopt(): Promise<void> {
    await this.loadSaved();
  }

  /** The steps' statuses as this session's last save left them (same lab, same steps), if there is such a save. */
  private async loadSaved(): Promise<boolean> {
    const saved = await this.store.load(this.session);
    if (!saved || saved.lab !== this.lab.id || saved.statuses.length !== this.lab.steps.length) return false;
    this.statuses = saved.statuses;
    this.current = saved.current;
    return true;
  }

  /**
   * Runs steps 1..count as `labs test` does (server/labs/lab-tester.ts): setup, solution, then the
   * check, which must pass, so the learner lands in a state the next step builds on. A step that
   * fails stops it: the learner is left at that step, the page says why and offers to start over.
   */
  private async replaySteps(count: number): Promise<void> {
    for (let i = 0; i < count && !this.disposed; i++) {
      const step = this.lab.steps[i]!;
      this.replay = { state: 'running', step: i + 1, of: count, title: step.title };
      this.emit();
      const failed = await replayStep(this.driver, this.boxes, step);
      if (this.disposed) return;
      if (failed) {
        this.log.warn({ session: this.session, lab: this.lab.id, step: i, failed }, 'replaying a resumed lab failed');
        this.replay = { state: 'failed', step: i + 1, of: count, title: step.title, message: failed };
        this.land(i);
        return;
      }
      this.statuses[i] = 'done';
    }
    this.replay = { state: 'done', of: count };
    this.land(count);
    await this.runSetup(count);
  }

  /** After a replay: step `index` is current, the ones before it done. */
  private land(index: number): void {
    this.current = index;
    this.statuses = this.lab.steps.map((_, i) => (i < index ? 'done' : i === index ? 'current' : 'pending'));
    this.currentSince = Date.now();
    // Its foreground the page types as for any current step; a failed replay ran the step's setup already.
    this.quietFailures = foregroundCommands(this.lab.steps[index]?.foreground);
    this.persist();
    this.emit();
  }

  progress(): LabProgress {
    return {
      steps: [...this.statuses], current: this.current, finished: this.current >= this.lab.steps.length,
      checking: this.checking, feedback: this.feedback, ...(this.replay ? { replay: this.replay } : {}),
    };
  }

  onChange(listener: (progress: LabProgress) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Checks the current step; resolves with the progress after that check. */
  async check(source: CheckSource): Promise<LabProgress> {
    if (this.current >= this.lab.steps.length || this.disposed) return this.progress();
    // Replaying a resumed lab: the box is not the learner's yet, and its steps are being checked already.
    if (this.replay?.state === 'running') return this.progress();
    const locked = this.gate?.(this.current);
    if (locked) {
      // Only the Check button hears why; a finished command stays quiet.
      if (source === 'button' || source === 'reload') {
        this.feedback = { step: this.current, passed: false, message: locked, at: Date.now() };
        this.emit();
      }
      return this.progress();
    }
    if (this.running) {
      this.again = this.again === 'button' || this.again === 'reload' ? this.again : source;
      await this.running;
      // The check queued behind the running one settles before this resolves.
      if (this.running) await this.running;
      return this.progress();
    }
    this.running = this.loop(source);
    await this.running;
    return this.progress();
  }

  /**
   * Live reload (`labs dev`): the lab's new version takes over from the next check on. Progress is
   * kept by step index; when the number of steps changed, the steps before the current one stay
   * done and the current one stays current if it still exists (else the lab is finished). The
   * current step's setup is not run again (it ran when the step became current). Returns what
   * changed in the progress, in words for the author.
   */
  replaceLab(lab: Lab): string[] {
    const before = this.lab.steps.length;
    const after = lab.steps.length;
    this.lab = lab;
    if (after === before) return [];
    const current = Math.min(this.current, after);
    this.current = current;
    this.statuses = lab.steps.map((_, i) => (i < current ? 'done' : i === current ? 'current' : 'pending'));
    if (this.feedback && this.feedback.step >= after) this.feedback = undefined;
    this.quietFailures = 0;
    this.persist();
    this.emit();
    const where = current >= after ? 'the lab is finished' : `step ${current + 1} is current`;
    return [`The lab now has ${after} step${after === 1 ? '' : 's'} (it had ${before}): progress kept by position, ${where}.`];
  }

  /** The learner pressed Enter in a terminal: what finishes next is their attempt at the current step. */
  noteEnter(): void { this.enteredAt = Date.now(); }

  dispose(): void {
    this.disposed = true;
    this.listeners.clear();
  }

  private async loop(first: CheckSource): Promise<void> {
    let source: RunSource | undefined = first;
    try {
      while (source && !this.disposed && this.current < this.lab.steps.length && !this.gate?.(this.current)) {
        const wait = this.lastCheckAt + MIN_CHECK_GAP_MS - Date.now();
        if (source === 'command' && wait > 0) await new Promise((r) => setTimeout(r, wait));
        this.again = undefined;
        this.lastCheckAt = Date.now();
        const passed = await this.checkOnce(source);
        // A pass may mean the learner is ahead: check the next step at once, quietly.
        source = this.again ?? (passed ? 'ahead' : undefined);
      }
    } finally {
      this.running = undefined;
      this.checking = false;
      this.emit();
    }
  }

  private async checkOnce(source: RunSource): Promise<boolean> {
    const index = this.current;
    const step = this.lab.steps[index]!;
    // A manual step has no check: only the learner's own button ("Done, next step") completes it;
    // finished commands and the look-ahead after a pass leave it alone.
    if (step.manual && source !== 'button') return false;
    this.checking = true;
    this.emit();
    const started = Date.now();
    let passed = false;
    let message: string;
    try {
      const result = step.check === undefined
        ? { exitCode: 0, output: 'Marked done.', timedOut: false }
        : await this.driver.runScript(this.boxes.get(step.host)!, step.check, step.timeoutS * 1000);
      passed = result.exitCode === 0;
      message = result.timedOut ? `The check took longer than ${step.timeoutS} s; try again in a moment.` : result.output.slice(0, 2000);
    } catch (err) {
      message = 'The check could not run in your box (is it still running?).';
      this.log.warn({ err, session: this.session, step: index }, 'check failed to run');
    }
    if (this.disposed) return false;
    await this.store.recordCheck(this.session, this.lab.id, index, passed, source, Date.now() - started)
      .catch((err: Error) => this.log.error({ err, session: this.session, step: index }, 'check not recorded'));
    this.onChecked(passed, source);
    if (passed) {
      this.statuses[index] = 'done';
      this.current = index + 1;
      this.currentSince = Date.now();
      this.quietFailures = foregroundCommands(this.lab.steps[this.current]?.foreground);
      this.feedback = { step: index, passed: true, message: message || 'Done.', at: Date.now() };
      if (this.current < this.lab.steps.length) {
        this.statuses[this.current] = 'current';
        this.emit();
        await this.runSetup(this.current);
      }
    } else if (source === 'command' && this.quietFailures > 0) {
      this.quietFailures--;
    } else if (source === 'button' || source === 'reload' || (source === 'command' && this.enteredAt > this.currentSince)) {
      // "Not yet" answers an attempt at this step: not the quiet look-ahead after a pass, nor the
      // tail of a command block typed for the step before.
      this.feedback = { step: index, passed: false, message: message || 'Not done yet.', at: Date.now() };
    }
    this.persist();
    return passed;
  }

  private async runSetup(index: number): Promise<void> {
    const step = this.lab.steps[index];
    if (!step?.setup) return;
    const result = await this.driver.runScript(this.boxes.get(step.host)!, step.setup, SETUP_TIMEOUT_MS).catch((err: Error) => ({ exitCode: -1, output: err.message, timedOut: false }));
    if (result.exitCode !== 0) this.log.error({ session: this.session, lab: this.lab.id, step: index, output: result.output }, 'step setup failed');
  }

  /** Saves in order (the last state wins on every database), without holding up the learner. */
  private persist(): void {
    const progress = { lab: this.lab.id, current: this.current, statuses: [...this.statuses] };
    this.saving = this.saving.then(() => this.store.save(this.session, progress))
      .catch((err: Error) => this.log.error({ err, session: this.session }, 'progress not saved'));
  }

  private emit(): void {
    const progress = this.progress();
    for (const listener of this.listeners) listener(progress);
  }
}

/** Commands a foreground script runs one by one (its non-empty, non-comment lines): each ends with a prompt, and a check. */
function foregroundCommands(foreground: string | undefined): number {
  return foreground ? foreground.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#')).length : 0;
}
