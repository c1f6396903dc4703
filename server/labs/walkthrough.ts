// Records a lab's walkthrough: the lab's real boxes, each step's solution typed into a real terminal
// the way a person types it, each step's check required to pass, saved as one asciicast file (v2,
// or v3 with TERMLAB_RECORDING_FORMAT=v3).
//
// Pacing is virtual. The file's clock is the real clock plus the typing delays (25-70 ms a key from
// a PRNG seeded by the lab id, a pause before Enter, a pause before each command), so nothing sleeps,
// yet every key is written only after the shell echoed the previous one and plays back as typing.
// Commands run in real time (long waits shortened by the idle limit), and the clock stands still
// while setups and checks run out of band, which the terminal never shows.
//
// Multi-line: a solution is cut into the pieces an interactive bash runs one at a time, each the
// fewest whole lines that `bash -n` accepts on their own (a heredoc, an if or for block, a quote or
// a line ending in \ spans several). Lines inside a piece are typed at bash's "> " prompt; the next
// piece waits for the prompt marker after the piece (TerminalStream.onCommandDone). A solution that
// calls `exit` (written for `bash -c`) is typed inside ( ... ) so it cannot end the terminal's shell.
//
// Multi-terminal: one file for the lab. Every terminal of the lab gets its own shell, all the same
// size, and the file follows the terminal the current step uses. Switching adds a marker naming it
// ("host2$") and a Ctrl-L in that terminal, so the screen clears and shows the other shell's prompt.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CastWriter, type RecordingFormat } from '../recordings/cast-writer.js';
import type { BoxHandle, SandboxDriver } from '../sandbox/sandbox-driver.js';
import { PROMPT_MARKER, TerminalStream } from '../sessions/terminal-stream.js';
import { createLabBoxes, destroyLabBoxes, startLab } from './lab-boxes.js';
import type { Lab, LabStep } from './lab-loader.js';
import type { StepVerdict } from './lab-tester.js';

export { WALKTHROUGH_FILE } from './lab-format.js';

export interface WalkthroughOptions {
  /** Where the file goes. It is written beside it under a temporary name and renamed once every step passed. */
  out: string;
  /** Names the lab's boxes; unique per run. */
  session: string;
  cols?: number;
  rows?: number;
  /** Seeds the typing rhythm; by default the lab id, so a lab types the same way each time. */
  seed?: string;
  onStep?: (verdict: StepVerdict) => void;
  /** The asciicast version written; v2 unless given. */
  format?: RecordingFormat;
}

export interface Walkthrough {
  /** Every step's check passed and the file was written; otherwise nothing was written. */
  ok: boolean;
  steps: StepVerdict[];
  /** Seconds of playback. */
  durationS: number;
  bytes: number;
}

const COMMAND_TIMEOUT_MS = 120_000;
const PROMPT_TIMEOUT_MS = 30_000;
const IDLE_LIMIT_S = 1.5;
/** Longest wait for a key's echo before typing the next one anyway (an echo takes a few ms). */
const ECHO_TIMEOUT_MS = 1000;

/** Records `lab` into opts.out on fresh boxes, destroyed afterwards whatever happens. */
export async function recordWalkthrough(driver: SandboxDriver, lab: Lab, opts: WalkthroughOptions): Promise<Walkthrough> {
  const boxes = await createLabBoxes(driver, lab, opts.session);
  const temp = path.join(path.dirname(opts.out), `.${path.basename(opts.out)}.${process.pid}.tmp`);
  let take: Take | undefined;
  let ok = false;
  try {
    await startLab(driver, lab, boxes);
    take = new Take(driver, lab, boxes, temp, opts);
    ok = await take.run();
  } finally {
    await take?.dispose();
    await destroyLabBoxes(driver, boxes);
    if (ok) fs.renameSync(temp, opts.out);
    else fs.rmSync(temp, { force: true });
  }
  return { ok, steps: take.verdicts, durationS: take.durationS, bytes: take.bytes };
}

/** One recording session: the lab's terminals, the file, and the clock the file is written against. */
class Take {
  readonly verdicts: StepVerdict[] = [];
  private readonly clock = new ScriptClock();
  private readonly random: () => number;
  private readonly writer: CastWriter;
  private readonly size: { width: number; height: number };
  private readonly terminals = new Map<string, TerminalStream>();
  private readonly disposers: Array<() => void> = [];
  private active: string;

  constructor(private readonly driver: SandboxDriver, private readonly lab: Lab, private readonly boxes: Map<string, BoxHandle>,
    file: string, private readonly opts: WalkthroughOptions) {
    this.random = mulberry32(hash(opts.seed ?? lab.id));
    this.size = { width: opts.cols ?? 100, height: opts.rows ?? 28 };
    this.writer = new CastWriter(file, { ...this.size, title: `${lab.title} (walkthrough)`, idleLimit: IDLE_LIMIT_S, now: this.clock.now, format: opts.format });
    this.active = lab.steps[0]?.terminal ?? lab.terminals[0]!.id;
  }

  get durationS(): number { return this.writer.duration; }
  get bytes(): number { return this.writer.size; }

  /** True when every step passed. */
  async run(): Promise<boolean> {
    const { width: cols, height: rows } = this.size;
    for (const t of this.lab.terminals) {
      const box = this.boxes.get(t.host)!;
      const stream = new TerminalStream({ shell: (size) => this.driver.openShell(box, size), cols, rows });
      this.terminals.set(t.id, stream);
      this.disposers.push(stream.onOutput((_offset, bytes) => { if (this.active === t.id) this.writer.output(bytes); }));
    }
    // The shells' start-up is not part of the show: whatever they print lands at 0 s.
    await this.clock.paused(() => Promise.all([...this.terminals.values()].map((s) => firstPrompt(s))));
    for (const step of this.lab.steps) {
      const started = Date.now();
      let result: { ok: boolean; detail: string };
      try {
        result = await this.step(step);
      } catch (err) {
        result = { ok: false, detail: `error: ${(err as Error).message}` };
      }
      const verdict = { lab: this.lab.id, step: step.index + 1, title: step.title, ...result, ms: Date.now() - started };
      this.verdicts.push(verdict);
      this.opts.onStep?.(verdict);
      if (!result.ok) return false;
    }
    this.clock.advance(1500);
    this.writer.marker('Finished');
    return true;
  }

  async dispose(): Promise<void> {
    this.disposers.splice(0).forEach((off) => off());
    for (const stream of this.terminals.values()) stream.dispose();
    await this.writer.close();
  }

  private async step(step: LabStep): Promise<{ ok: boolean; detail: string }> {
    this.writer.marker(`${step.index + 1}. ${step.title}`);
    await this.switchTo(step.terminal);
    const box = this.boxes.get(step.host)!;
    if (step.setup) {
      const setup = await this.clock.paused(() => this.driver.runScript(box, step.setup!, COMMAND_TIMEOUT_MS));
      if (setup.exitCode !== 0) return { ok: false, detail: `setup failed (exit ${setup.exitCode}): ${setup.output}` };
    }
    const pieces = commandPieces(step.solution);
    for (const piece of pieces) {
      const done = await this.type(this.terminals.get(step.terminal)!, piece);
      if (!done) return { ok: false, detail: `the command did not finish within ${COMMAND_TIMEOUT_MS / 1000} s: ${piece[0]}` };
    }
    // A manual step has no check: its typed solution finishing is all there is to see.
    if (step.check === undefined) return { ok: true, detail: `typed ${pieces.length} command${pieces.length === 1 ? '' : 's'} (manual step: no check)` };
    const check = await this.clock.paused(() => this.driver.runScript(box, step.check!, step.timeoutS * 1000));
    if (check.exitCode !== 0) {
      return { ok: false, detail: `check FAILS after the typed solution (exit ${check.exitCode}${check.timedOut ? ', timed out' : ''}): ${check.output}` };
    }
    return { ok: true, detail: `typed ${pieces.length} command${pieces.length === 1 ? '' : 's'}, check passes` };
  }

  /** Follows another terminal: a marker, the new size if it differs, and Ctrl-L there for a clean screen and its prompt. */
  private async switchTo(terminal: string): Promise<void> {
    if (terminal === this.active) return;
    const from = this.terminals.get(this.active)!.size;
    const stream = this.terminals.get(terminal)!;
    this.active = terminal;
    this.writer.marker(`${terminal}$`);
    if (stream.size.cols !== from.cols || stream.size.rows !== from.rows) this.writer.resize(stream.size.cols, stream.size.rows);
    this.clock.advance(this.between(300, 600));
    await key(stream, '\x0c');
    await settle(stream, 40, 1000);
  }

  /** Types one piece (one or more lines); true once the shell is back at its prompt. */
  private async type(stream: TerminalStream, lines: string[]): Promise<boolean> {
    this.clock.advance(this.between(500, 1000));
    for (const [i, line] of lines.entries()) {
      for (const ch of line) {
        this.clock.advance(this.between(25, 70));
        await key(stream, ch);
      }
      this.clock.advance(this.between(150, 350));
      if (i < lines.length - 1) {
        // bash wants more: wait for its "> " before the next line.
        await key(stream, '\r');
        await settle(stream, 30, 1000);
        continue;
      }
      const prompt = waitFor((fire) => {
        const offDone = stream.onCommandDone(fire);
        const offExit = stream.onExit(fire);
        return () => { offDone(); offExit(); };
      }, COMMAND_TIMEOUT_MS);
      stream.write('\r');
      if (!await prompt) return false;
      if (stream.hasExited) throw new Error(`the shell exited while running: ${line}`);
      // The prompt itself follows its marker.
      await settle(stream, 40, 1000);
    }
    return true;
  }

  private between(min: number, max: number): number {
    return min + this.random() * (max - min);
  }
}

/**
 * The pieces an interactive bash runs one at a time, each as lines to type: the fewest whole lines
 * that parse alone. Blank lines between pieces are dropped. A script that calls `exit` becomes one
 * piece inside ( ... ), as a terminal's shell must survive it.
 */
export function commandPieces(script: string): string[][] {
  const lines = script.replace(/\s+$/, '').split('\n');
  if (callsExit(script)) return [['(', ...lines, ')']];
  const pieces: string[][] = [];
  let start = 0;
  while (start < lines.length) {
    if (!lines[start]!.trim()) { start++; continue; }
    let end = start;
    while (end < lines.length - 1 && !parsesAlone(lines.slice(start, end + 1))) end++;
    pieces.push(lines.slice(start, end + 1));
    start = end + 1;
  }
  return pieces;
}

/** An `exit` outside quotes (inside them it belongs to another shell: sh -c '...; exit 1'). */
function callsExit(script: string): boolean {
  const unquoted = script.replace(/'[^']*'|"(?:\\.|[^"\\])*"/g, "''");
  return /(^|[;&|({]|\b(then|do|else)\b)\s*exit\b/m.test(unquoted);
}

/** Whether bash would run these lines without asking for more (no open block, quote, heredoc or trailing \). */
function parsesAlone(lines: string[]): boolean {
  if (/(^|[^\\])(\\\\)*\\$/.test(lines.at(-1)!)) return false;
  const r = spawnSync('bash', ['-n'], { input: `${lines.join('\n')}\n`, encoding: 'utf8', timeout: 5000 });
  // An unterminated heredoc is only a warning: exit 0, but something on stderr.
  return r.status === 0 && !r.stderr;
}

/**
 * Milliseconds for the file: the real clock, plus what advance() adds, minus the time spent paused.
 * It never goes back, so events during a pause all land on the moment the pause began.
 */
class ScriptClock {
  private readonly origin = Date.now();
  private readonly realStart = performance.now();
  private offset = 0;
  private frozenAt: number | undefined;
  private last = 0;

  readonly now = (): number => {
    const t = this.frozenAt ?? this.origin + performance.now() - this.realStart + this.offset;
    this.last = Math.max(this.last, t);
    return this.last;
  };

  advance(ms: number): void {
    if (this.frozenAt !== undefined) this.frozenAt += ms;
    else this.offset += ms;
  }

  async paused<T>(work: () => Promise<T>): Promise<T> {
    const at = this.now();
    this.frozenAt = at;
    try {
      return await work();
    } finally {
      this.frozenAt = undefined;
      this.offset = at - (this.origin + performance.now() - this.realStart);
    }
  }
}

/** Writes one key and waits for the shell's echo (or a short while). */
async function key(stream: TerminalStream, data: string): Promise<void> {
  const echoed = waitFor((fire) => stream.onOutput(fire), ECHO_TIMEOUT_MS);
  stream.write(data);
  await echoed;
}

/** Waits until the terminal printed nothing for quietMs, or maxMs in all. */
function settle(stream: TerminalStream, quietMs: number, maxMs: number): Promise<void> {
  return new Promise((resolve) => {
    const finish = () => { clearTimeout(quiet); clearTimeout(limit); off(); resolve(); };
    let quiet = setTimeout(finish, quietMs);
    const limit = setTimeout(finish, maxMs);
    const off = stream.onOutput(() => { clearTimeout(quiet); quiet = setTimeout(finish, quietMs); });
  });
}

/** The shell's first prompt (TerminalStream.onCommandDone skips it: it follows no command). */
async function firstPrompt(stream: TerminalStream): Promise<void> {
  let seen = Buffer.alloc(0);
  const shown = await waitFor((fire) => {
    const offOutput = stream.onOutput((_offset, bytes) => {
      seen = Buffer.concat([seen, bytes]);
      if (seen.includes(PROMPT_MARKER)) fire();
    });
    const offExit = stream.onExit(fire);
    return () => { offOutput(); offExit(); };
  }, PROMPT_TIMEOUT_MS);
  if (!shown || stream.hasExited) throw new Error(`the terminal's shell showed no prompt: ${seen.toString('utf8').slice(-300)}`);
  await settle(stream, 100, 1000);
}

/** True when the event fires within ms, false after ms; unsubscribes either way. */
function waitFor(subscribe: (fire: () => void) => () => void, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (fired: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      off();
      resolve(fired);
    };
    const timer = setTimeout(() => finish(false), ms);
    const off = subscribe(() => finish(true));
  });
}

function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A small seeded PRNG: the same seed types with the same rhythm. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
