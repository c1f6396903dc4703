// A self-paced learner's history: each start of a lab is an attempt, fed by the session's step
// results as they happen; an unfinished attempt can be continued on a fresh box (the runner replays
// the passed steps, server/labs/lab-runner.ts); a finished one gets a signed proof of completion.
// Workshop seats are the instructor's business (their report), not this history.
import crypto from 'node:crypto';
import type { LabProgress } from '../../protocol/api.js';
import type { AttemptInfo, CompletionResponse, HistoryResponse } from '../../protocol/history.js';
import { completionPath } from '../../protocol/history.js';
import type { HistorySettings } from '../config.js';
import type { Lab } from '../labs/lab-loader.js';
import type { Logger } from '../log.js';
import type { Session } from '../sessions/session.js';
import { CompletionSigner } from './completion.js';
import { HistoryStore, type AttemptRow } from './history-store.js';

const SWEEP_EVERY_MS = 60 * 60 * 1000;

/** What continuing a learner's unfinished attempt at a lab means now. */
export type ResumePlan =
  | { kind: 'live'; session: Session }
  /** `release` once the fresh session exists (or failed to): until then, other tabs continuing it are refused. */
  | { kind: 'replay'; attempt: AttemptRow; from: number; release: () => void }
  | { kind: 'refused'; code: 'nothing-to-resume' | 'cannot-resume' | 'resuming'; message: string };

/** Each loaded lab's version, hashed once: GET /api/me asks for it per unfinished attempt, and a lab's files may be 2 MiB. */
const versions = new WeakMap<Lab, string>();

/** What replaying a lab's steps depends on: when any of it changed, an old attempt cannot be continued. */
export function labVersion(lab: Lab): string {
  let version = versions.get(lab);
  if (version !== undefined) return version;
  const hash = crypto.createHash('sha256');
  hash.update(JSON.stringify({
    profile: lab.profile, hosts: lab.hosts, images: lab.images, setup: lab.setup ?? '',
    steps: lab.steps.map((s) => [s.host, s.setup ?? '', s.solution, s.check ?? '', s.manual]),
  }));
  for (const f of lab.files) hash.update(`${f.to}\0${f.file}\0${f.chmod ?? ''}\0`).update(f.content);
  version = hash.digest('base64url').slice(0, 22);
  versions.set(lab, version);
  return version;
}

export class HistoryService {
  private readonly signer: CompletionSigner;
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Attempts whose fresh box is being started: two tabs pressing Continue at once must not get two boxes. */
  private readonly resuming = new Set<string>();

  constructor(
    private readonly store: HistoryStore,
    key: Buffer,
    private readonly settings: HistorySettings,
    private readonly labs: () => Map<string, Lab>,
    private readonly liveSession: (id: string) => Session | undefined,
    /** Share ids of the learner's recordings of a lab made since a time (linked from the proof). */
    private readonly recordingShares: (learner: string, lab: string, since: number) => Promise<string[]>,
    private readonly log: Logger,
  ) {
    this.signer = new CompletionSigner(key);
  }

  start(): void {
    const sweep = (): void => void this.sweep().catch((err: Error) => this.log.error({ err }, 'history sweep failed'));
    sweep();
    this.sweepTimer = setInterval(sweep, SWEEP_EVERY_MS);
    this.sweepTimer.unref();
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
  }

  /** A new attempt at the session's lab (a start, or "Start over"), followed from now on. */
  begin(learner: string, session: Session): void {
    const lab = session.lab;
    const now = Date.now();
    const attempt: AttemptRow = {
      id: crypto.randomBytes(18).toString('base64url'), learner, lab: lab.id, title: lab.title, version: labVersion(lab),
      state: 'in-progress', passedAt: lab.steps.map(() => null), session: session.id, startedAt: now, updatedAt: now,
    };
    this.follow(attempt, session, this.store.insert(attempt, this.settings.attemptsPerLab, this.settings.maxAttempts));
  }

  /** How "Continue" goes for this learner and lab: take the running session back, replay on a fresh box, or why not. */
  async resumePlan(learner: string, labId: string): Promise<ResumePlan> {
    const attempt = await this.store.latest(learner, labId);
    if (!attempt || attempt.state !== 'in-progress') {
      return { kind: 'refused', code: 'nothing-to-resume', message: 'you have no unfinished attempt at this lab: start it instead' };
    }
    const live = this.liveSession(attempt.session);
    if (live && !live.endReason) return { kind: 'live', session: live };
    const problem = this.resumeProblem(attempt);
    if (problem) return { kind: 'refused', code: 'cannot-resume', message: problem };
    if (this.resuming.has(attempt.id)) {
      return { kind: 'refused', code: 'resuming', message: 'this lab is being continued in another tab or window: try again in a moment' };
    }
    this.resuming.add(attempt.id);
    return { kind: 'replay', attempt, from: passedCount(attempt), release: () => this.resuming.delete(attempt.id) };
  }

  /** A fresh session replaying `attempt`'s passed steps: the attempt goes on in it. */
  resumeIn(attempt: AttemptRow, session: Session): void {
    this.follow({ ...attempt, session: session.id }, session,
      this.store.update(attempt.id, { passedAt: attempt.passedAt, state: 'in-progress', session: session.id }));
  }

  /** A session adopted from another replica: its attempt is followed here from now on. */
  async adopted(session: Session): Promise<void> {
    const attempt = await this.store.inSession(session.id);
    if (attempt) this.follow(attempt, session, Promise.resolve());
  }

  async list(learner: string): Promise<HistoryResponse> {
    return {
      name: await this.store.name(learner),
      attempts: (await this.store.attempts(learner)).map((a) => this.info(a)),
      limits: { attemptsPerLab: this.settings.attemptsPerLab, retentionDays: Math.round(this.settings.retentionMs / 86_400_000) },
    };
  }

  setName(learner: string, name: string): Promise<void> { return this.store.setName(learner, name); }

  async erase(learner: string): Promise<number> {
    const n = await this.store.erase(learner);
    this.log.info({ attempts: n }, 'a learner erased their history');
    return n;
  }

  /** What a completion link states, if this server issued it and it has not been withdrawn. */
  async verify(token: string): Promise<CompletionResponse | { malformed: string }> {
    const result = this.signer.verify(token);
    if (!result.ok) return result.malformed ? { malformed: result.reason } : { verified: false, reason: result.reason };
    const attempt = await this.store.get(result.completion.attempt);
    if (!attempt || attempt.completion !== token) {
      return { verified: false, reason: 'this server issued it, but it has been withdrawn: the learner erased their history, or it passed its retention' };
    }
    return { verified: true, completion: result.completion, url: completionPath(token) };
  }

  /** Several servers may sweep at once. */
  async sweep(): Promise<void> {
    const removed = await this.store.sweep(Date.now() - this.settings.retentionMs);
    if (removed) this.log.info({ attempts: removed }, 'history past its retention deleted');
  }

  /** Why an unfinished attempt cannot be continued, if it cannot. */
  private resumeProblem(attempt: AttemptRow): string | undefined {
    const lab = this.labs().get(attempt.lab);
    if (!lab) return 'this lab is no longer on this server';
    if (labVersion(lab) !== attempt.version) return 'this lab has changed since you started it, so your steps cannot be replayed: start over';
    return undefined;
  }

  private info(a: AttemptRow): AttemptInfo {
    const passed = passedCount(a);
    const info: AttemptInfo = {
      id: a.id, lab: a.lab, title: a.title, state: a.state, steps: a.passedAt.length, passed,
      startedAt: a.startedAt, updatedAt: a.updatedAt,
    };
    if (a.finishedAt) info.finishedAt = a.finishedAt;
    if (a.completion) info.completion = completionPath(a.completion);
    if (a.state === 'in-progress') {
      const live = this.liveSession(a.session);
      if (live && !live.endReason) info.live = true;
      info.resume = { step: passed + 1, problem: info.live ? undefined : this.resumeProblem(a) };
    }
    return info;
  }

  /**
   * Follows the session's progress into the attempt: a step's time is when it first turned done. While
   * a resumed session replays, the old times stand; a replay that stopped short drops the times of the
   * steps it did not reach (the learner does them again).
   */
  private follow(attempt: AttemptRow, session: Session, stored: Promise<unknown>): void {
    const passedAt = [...attempt.passedAt];
    // Writes go in order, after the attempt's row is written: the last state wins.
    let writing = stored.catch((err: Error) => this.log.error({ err, attempt: attempt.id }, 'attempt not saved'));
    const write = (change: () => Promise<unknown>): void => {
      writing = writing.then(change).catch((err: Error) => this.log.error({ err, attempt: attempt.id }, 'attempt not saved'));
    };
    let finished = false;
    session.runner.onChange((progress: LabProgress) => {
      if (finished || progress.replay?.state === 'running') return;
      let changed = false;
      progress.steps.forEach((status, i) => {
        const next = status === 'done' ? (passedAt[i] ?? Date.now()) : null;
        if (next !== passedAt[i]) { passedAt[i] = next; changed = true; }
      });
      if (!changed && !progress.finished) return;
      if (progress.finished) {
        finished = true;
        const done = [...passedAt];
        write(() => this.finish(attempt, done));
      } else {
        const now = [...passedAt];
        write(() => this.store.update(attempt.id, { passedAt: now, state: 'in-progress' }));
      }
    });
  }

  private async finish(attempt: AttemptRow, passedAt: Array<number | null>): Promise<void> {
    const lab = this.labs().get(attempt.lab);
    const finishedAt = Date.now();
    const steps = passedAt.map((at, i) => ({ title: lab?.steps[i]?.title ?? `Step ${i + 1}`, passedAt: at ?? finishedAt }));
    const token = this.signer.sign({
      attempt: attempt.id, lab: attempt.lab, title: attempt.title, name: await this.store.name(attempt.learner),
      startedAt: attempt.startedAt, finishedAt, steps,
      recordings: (await this.recordingShares(attempt.learner, attempt.lab, attempt.startedAt)).slice(0, 10), issuedAt: finishedAt,
    });
    if (await this.store.update(attempt.id, { passedAt, state: 'finished', finishedAt, completion: token })) {
      this.log.info({ attempt: attempt.id, lab: attempt.lab }, 'lab finished: proof of completion issued');
    }
  }
}

function passedCount(a: AttemptRow): number {
  const firstOpen = a.passedAt.findIndex((at) => at === null);
  return firstOpen === -1 ? a.passedAt.length : firstOpen;
}
