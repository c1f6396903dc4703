// Starts and stops recordings of session terminals, closes them when a session ends, and keeps
// what one learner can store bounded: recordings per learner, bytes per learner (a running
// recording counts at its cap), and how long finished recordings are kept.
import type { RecordingInfo } from '../../protocol/api.js';
import type { RecordingLimits } from '../config.js';
import type { Session } from '../sessions/session.js';
import type { RecordingFormat } from './cast-writer.js';
import type { RecordingStore, RecordingUsage } from './recording-store.js';
import { TerminalRecorder, formatBytes } from './terminal-recorder.js';

interface Active { id: string; owner: string; cap: number; recorder: TerminalRecorder; offCloser: () => void }

/** A recording that may not start: the learner has to delete old ones first (an HTTP 409). */
export class RecordingRefused extends Error {
  readonly status = 409;
  constructor(readonly code: 'too-many-recordings' | 'recording-space-full', message: string) {
    super(message);
    this.name = 'RecordingRefused';
  }
}

/** Smallest room worth starting a recording in. */
const MIN_RECORDING_BYTES = 64 * 1024;
/** How often expired recordings are looked for (besides at start). */
const SWEEP_EVERY_MS = 60 * 60 * 1000;
/** A recording running this much longer than its time cap allows was a dead replica's. */
const ABANDONED_AFTER_MS = 60 * 1000;

export class RecordingService {
  private readonly active = new Map<string, Active>();
  private readonly starting = new Map<string, Promise<RecordingInfo>>();
  /**
   * Stopped recordings whose file is still being closed, by id: until their last lines (the closing
   * marker) are flushed and their row finished, readers find them here and are served only what
   * was flushed. A new recording of the same terminal may start meanwhile.
   */
  private readonly closing = new Map<string, TerminalRecorder>();
  private readonly sweeper: NodeJS.Timeout;
  /** The sweep made at start (resolves when it is done, whatever it found). */
  readonly firstSweep: Promise<void>;

  /** `format`: the asciicast version new recordings are written in. */
  constructor(readonly store: RecordingStore, readonly limits: RecordingLimits, readonly format: RecordingFormat = 'v2') {
    this.firstSweep = this.sweep().then(() => undefined, () => undefined);
    this.sweeper = setInterval(() => void this.sweep().catch(() => {}), Math.min(SWEEP_EVERY_MS, Math.max(1000, limits.retentionMs)));
    this.sweeper.unref();
  }

  /**
   * Starts recording (or returns the running recording of) one terminal of a session. Throws
   * RecordingRefused when the owner has as many recordings, or as many bytes, as they may keep.
   */
  start(session: Session, terminal: string, owner: string, input: boolean): Promise<RecordingInfo> {
    const key = `${session.id}/${terminal}`;
    // Two starts of one terminal at once make one recording.
    const pending = this.starting.get(key);
    if (pending) return pending;
    const starting = this.begin(key, session, terminal, owner, input).finally(() => this.starting.delete(key));
    this.starting.set(key, starting);
    return starting;
  }

  private async begin(key: string, session: Session, terminal: string, owner: string, input: boolean): Promise<RecordingInfo> {
    const running = this.active.get(key);
    if (running) return (await this.store.get(running.id))!;
    const { info, cap } = await this.store.create(
      { owner, lab: session.lab.id, session: session.id, terminal, title: `${session.lab.title} (${terminal})`, input },
      (usage) => this.room(usage));
    let stream: ReturnType<Session['terminal']>;
    try {
      stream = session.terminal(terminal, { cols: 80, rows: 24 });
    } catch (err) {
      await this.store.delete(info.id);
      throw err;
    }
    const sizeReason = cap < this.limits.maxBytes
      ? `your recordings reached the ${formatBytes(this.limits.maxBytesPerLearner)} kept per learner`
      : `reached its ${formatBytes(this.limits.maxBytes)} limit`;
    const recorder = new TerminalRecorder(this.store.sink(info.id), session, stream, terminal, input, {
      maxBytes: cap, maxDurationMs: this.limits.maxDurationMs, bufferBytes: this.limits.bufferBytes, sizeReason, format: this.format,
      onLimit: () => void this.stop(session.id, terminal),
    });
    const offCloser = session.addCloser(() => this.stop(session.id, terminal));
    this.active.set(key, { id: info.id, owner, cap, recorder, offCloser });
    return info;
  }

  /** The size cap a new recording gets, given its owner's usage (running recordings at their caps), or why it may not start. */
  private room({ count, bytes }: RecordingUsage): number {
    const { maxPerLearner, maxBytesPerLearner, maxBytes } = this.limits;
    if (count >= maxPerLearner) {
      throw new RecordingRefused('too-many-recordings',
        `you have ${count} recordings, the most kept per learner is ${maxPerLearner}: delete old ones on the Recordings page to record again`);
    }
    const left = maxBytesPerLearner - bytes;
    if (left < MIN_RECORDING_BYTES) {
      throw new RecordingRefused('recording-space-full',
        `your recordings use ${formatBytes(bytes)} of the ${formatBytes(maxBytesPerLearner)} kept per learner: delete old ones on the Recordings page to record again`);
    }
    return Math.min(maxBytes, left);
  }

  async stop(session: string, terminal: string): Promise<void> {
    const key = `${session}/${terminal}`;
    const running = this.active.get(key);
    if (!running) return;
    this.active.delete(key);
    this.closing.set(running.id, running.recorder);
    running.offCloser();
    try {
      await running.recorder.stop();
      // What was stored, which is what was written unless the file or database failed on the way.
      await this.store.finish(running.id, running.recorder.durationS, running.recorder.flushedBytes, running.recorder.stopReason);
    } finally {
      this.closing.delete(running.id);
    }
  }

  get runningCount(): number { return this.active.size; }

  /** Terminal id → recording id, for the session's recordings running now. */
  runningFor(session: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, a] of this.active) {
      const [s, terminal] = key.split('/') as [string, string];
      if (s === session) out[terminal] = a.id;
    }
    return out;
  }

  /** The recorder with this id while it runs or its file is being closed (tests and probes read its figures). */
  recorder(id: string): TerminalRecorder | undefined {
    for (const a of this.active.values()) if (a.id === id) return a.recorder;
    return this.closing.get(id);
  }

  /**
   * How many bytes of the recording may be served: what this server stored (whole lines) while it
   * writes it, what was recorded once it is finished. Never a half-written event. Undefined for a
   * recording another replica is writing: the database holds only whole lines, all servable.
   */
  servable(info: RecordingInfo): number | undefined {
    const local = this.recorder(info.id);
    if (local) return local.flushedBytes;
    return info.recording && this.store.shared ? undefined : info.bytes;
  }

  /** Stops the running recording with this id, if any (before deleting it). */
  async stopById(id: string): Promise<void> {
    for (const [key, a] of this.active) {
      if (a.id === id) {
        const [s, terminal] = key.split('/') as [string, string];
        await this.stop(s, terminal);
      }
    }
  }

  /**
   * Deletes finished recordings older than the retention period; returns their ids. Several servers
   * may sweep at once. First, a dead replica's recordings still marked running (made longer ago than
   * a recording runs, with a minute to spare for one being closed) are finished at what they stored.
   */
  async sweep(now = Date.now()): Promise<string[]> {
    await this.store.recoverAbandoned(now - this.limits.maxDurationMs - ABANDONED_AFTER_MS);
    const expired = await this.store.createdBefore(now - this.limits.retentionMs);
    for (const id of expired) await this.store.delete(id);
    return expired;
  }

  /** Stops the retention sweep (running recordings are closed by their sessions). */
  close(): void {
    clearInterval(this.sweeper);
  }
}
