// Profile images prepared after the server listens, so a first run serves the page at once and
// each lab as soon as its image exists: shell and docker within minutes, while the kubernetes
// image builds its binaries from Go source (~10 min cold). Holds each one's state, phase and expected time in memory (the lab list
// polls it; a fast poller costs a Map lookup), and keeps the durations of phases that succeeded in
// the state dir, so the next first run of the same work is estimated from this machine.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SandboxProfile } from '../../protocol/api.js';
import { notReadyMessage, PROFILE_NAME, type ProfileStatus } from '../../protocol/preparation.js';
import type { Logger } from '../log.js';
import type { ImagePhase } from './images.js';

/**
 * Makes one profile's image and returns its ref. The default runs ensureImages for the profile;
 * a test may pass its own, which names phases and calls `prepare()` (the real one) when it lets go.
 */
export type PrepareStep = (profile: SandboxProfile, ctx: PrepareContext) => Promise<string>;
export interface PrepareContext {
  /** The real preparation (ensureImages for this profile); its phases are measured. */
  prepare(): Promise<string>;
  /** Names what is being done now, unmeasured (an injected step's phases are not this machine's build times). */
  phase(phase: ImagePhase): void;
}

/** Before a phase has succeeded once here: a 2-core machine with cold caches (README, docs/benchmarks.md). */
const DEFAULT_MS: Partial<Record<ImagePhase, number>> = { base: 90_000, 'kube-bins': 10 * 60_000, image: 3 * 60_000 };
/** What still follows a phase. The binaries are skipped when cached, so only the image build is certain to follow. */
const LATER: Record<ImagePhase, ImagePhase[]> = { waiting: [], base: ['image'], 'kube-bins': ['image'], image: [] };
const TIMES_FILE = 'preparation-times.json';

function phaseLabel(profile: SandboxProfile, phase: ImagePhase | undefined): string {
  switch (phase) {
    case undefined: return 'waiting for its turn (images are built one at a time)';
    case 'waiting': return 'waiting for another termlab process preparing images';
    case 'base': return 'preparing the Debian base image';
    case 'kube-bins': return 'building Kubernetes binaries';
    case 'image': return `building the ${PROFILE_NAME[profile]} image`;
  }
}

/** An engine's or a script's error, shortened to what a card can show: its first line and its last words. */
function reason(err: unknown): string {
  const lines = String((err as Error)?.message ?? err).split('\n').map((l) => l.trim()).filter(Boolean);
  const text = lines.length > 1 ? `${lines[0]} … ${lines[lines.length - 1]}` : (lines[0] ?? 'unknown error');
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

interface Entry {
  state: ProfileStatus['state'];
  phase?: ImagePhase;
  phaseStartedAt: number;
  /** The phase was reported by the real preparation, so its duration is this machine's. */
  measured: boolean;
  error?: string;
}

export class ProfilePreparation {
  private readonly entries = new Map<SandboxProfile, Entry>();
  /** One preparation at a time in this process (ensureImages' lock file orders them between processes). */
  private queue: Promise<void> = Promise.resolve();
  private times: Record<string, number>;

  constructor(
    private readonly stateDir: string,
    private readonly log: Logger,
    private readonly progress: (line: string) => void,
    private readonly onReady: (profile: SandboxProfile, ref: string) => void,
  ) {
    this.times = this.readTimes();
  }

  /** Queues the profile's preparation; until it succeeds, its labs are refused with notReadyMessage. */
  start(profile: SandboxProfile, step: PrepareStep, real: (onPhase: (phase: ImagePhase) => void) => Promise<string>): void {
    const entry: Entry = { state: 'preparing', phaseStartedAt: Date.now(), measured: false };
    this.entries.set(profile, entry);
    this.queue = this.queue.then(async () => {
      entry.phaseStartedAt = Date.now();
      const ctx: PrepareContext = {
        prepare: () => real((phase) => this.enter(profile, entry, phase, true)),
        phase: (phase) => this.enter(profile, entry, phase, false),
      };
      try {
        const ref = await step(profile, ctx);
        this.finishPhase(profile, entry);
        entry.state = 'ready';
        entry.phase = undefined;
        this.log.info({ profile, ref }, 'sandbox profile ready');
        this.progress(`the ${profile} sandbox is ready (${ref})`);
        this.onReady(profile, ref);
      } catch (err) {
        entry.state = 'failed';
        entry.error = reason(err);
        this.log.error({ err, profile }, 'preparing the sandbox profile failed; its labs are refused until the next start');
        this.progress(`preparing the ${profile} sandbox FAILED: ${(err as Error).message} (other profiles work; restart to try again)`);
      }
    });
  }

  /** Every profile prepared in the background, as the page sees it (profiles ready at listen are not listed). */
  statuses(): Partial<Record<SandboxProfile, ProfileStatus>> {
    const out: Partial<Record<SandboxProfile, ProfileStatus>> = {};
    for (const profile of this.entries.keys()) out[profile] = this.status(profile);
    return out;
  }

  status(profile: SandboxProfile): ProfileStatus | undefined {
    const entry = this.entries.get(profile);
    if (!entry) return undefined;
    if (entry.state === 'ready') return { state: 'ready' };
    if (entry.state === 'failed') return { state: 'failed', error: entry.error };
    const elapsedMs = Date.now() - entry.phaseStartedAt;
    const expectedMs = entry.phase ? this.expected(profile, entry.phase) : undefined;
    const status: ProfileStatus = { state: 'preparing', phase: phaseLabel(profile, entry.phase), elapsedMs };
    if (expectedMs !== undefined && entry.phase) {
      status.expectedMs = expectedMs;
      // Past its estimate a phase is "about a minute" from done, not a negative time.
      status.leftMs = Math.max(60_000, expectedMs - elapsedMs) +
        LATER[entry.phase].reduce((sum, later) => sum + (this.expected(profile, later) ?? 0), 0);
    }
    return status;
  }

  /** Why a lab of this profile cannot start now, or undefined. */
  refusal(profile: SandboxProfile): string | undefined {
    return notReadyMessage(profile, this.status(profile));
  }

  /** Resolves when every queued preparation has ended (ready or failed). */
  settled(): Promise<void> { return this.queue; }

  private enter(profile: SandboxProfile, entry: Entry, phase: ImagePhase, measured: boolean): void {
    this.finishPhase(profile, entry);
    entry.phase = phase;
    entry.phaseStartedAt = Date.now();
    entry.measured = measured;
  }

  /** Records the phase that just ended, when it was real work done here (waiting for a lock is not). */
  private finishPhase(profile: SandboxProfile, entry: Entry): void {
    if (!entry.phase || !entry.measured || entry.phase === 'waiting') return;
    this.times[`${profile}/${entry.phase}`] = Date.now() - entry.phaseStartedAt;
    const file = path.join(this.stateDir, TIMES_FILE);
    try {
      writeFileSync(`${file}.tmp`, `${JSON.stringify(this.times, null, 2)}\n`);
      renameSync(`${file}.tmp`, file);
    } catch (err) {
      this.log.warn({ err, file }, 'could not record how long preparing took (estimates fall back to defaults)');
    }
  }

  private expected(profile: SandboxProfile, phase: ImagePhase): number | undefined {
    return this.times[`${profile}/${phase}`] ?? DEFAULT_MS[phase];
  }

  private readTimes(): Record<string, number> {
    try {
      const parsed = JSON.parse(readFileSync(path.join(this.stateDir, TIMES_FILE), 'utf8')) as unknown;
      if (typeof parsed !== 'object' || parsed === null) return {};
      return Object.fromEntries(Object.entries(parsed).filter(([, v]) => typeof v === 'number' && v >= 0)) as Record<string, number>;
    } catch {
      return {};
    }
  }
}
