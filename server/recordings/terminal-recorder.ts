// Records one terminal of a session into an asciicast file (or the database's chunks): its output as it happens (whoever is
// attached, so a reconnect leaves no gap and no duplicate), every resize, a marker at each lab step
// and whenever control of the terminal passes between learner and instructor,
// and keystrokes only when asked for (they can hold passwords). The file has a size and a time cap,
// and while it lags behind the shell the shell is not read (its output waits in the box, not here).
import type { LabProgress } from '../../protocol/api.js';
import type { Session } from '../sessions/session.js';
import type { TerminalStream } from '../sessions/terminal-stream.js';
import type { CastSink } from './cast-sink.js';
import { CastWriter, type RecordingFormat } from './cast-writer.js';

export interface RecorderLimits {
  maxBytes: number;
  maxDurationMs: number;
  /** Bytes the file stream (or database batches) may hold before the shell is held back (it reads again below a quarter of it). */
  bufferBytes: number;
  /** Why the file stops when it reaches `maxBytes` ("reached its 64 MiB limit"). */
  sizeReason: string;
  /** Runs once when a cap is reached, with why; the owner then stops the recorder with that reason. */
  onLimit: (reason: string) => void;
  /** The asciicast version written (v2 unless given). */
  format?: RecordingFormat;
}

/** "64 MiB", "1.5 GiB", "512 KiB" */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : Number(v.toFixed(1))} ${units[i]}`;
}

/** "2 h", "90 min", "30 s" */
export function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600} h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60} min`;
  return `${Number(s.toFixed(1))} s`;
}

export class TerminalRecorder {
  private readonly writer: CastWriter;
  private readonly unsubscribe: Array<() => void> = [];
  private step: number;
  private stopped: Promise<void> | undefined;
  private limitReason: string | undefined;
  private readonly timer: NodeJS.Timeout;

  /** `out`: a file's path, or the store's sink (RecordingStore.sink). */
  constructor(out: string | CastSink, session: Session, stream: TerminalStream, terminal: string, input: boolean, private readonly limits: RecorderLimits) {
    const { cols, rows } = stream.size;
    this.writer = new CastWriter(out, {
      width: cols, height: rows, title: `${session.lab.title} (${terminal})`, maxBytes: limits.maxBytes, format: limits.format,
      onFull: () => this.reached(this.writer.error ? `the server could not write it (${this.writer.error.message})` : limits.sizeReason),
      // The shell was held back for this file: let it be read again once the file has caught up.
      onFlushed: () => { if (stream.isPaused && this.writer.pending <= limits.bufferBytes / 4) stream.recheckFlow(); },
    });
    const progress = session.runner.progress();
    this.step = progress.current;
    this.markStep(session, progress);
    this.unsubscribe.push(
      stream.addPressure(() => this.writer.pending, limits.bufferBytes, limits.bufferBytes / 4),
      stream.onOutput((_offset, bytes) => this.writer.output(bytes)),
      stream.onResize((c, r) => this.writer.resize(c, r)),
      // The shell exited for good (it was not started again): v3 files say with what status.
      stream.onExit((code) => this.writer.exit(code)),
      session.runner.onChange((p) => {
        if (p.current === this.step) return;
        this.step = p.current;
        this.markStep(session, p);
      }),
      // Workshops: what follows was typed by the instructor (with the learner's consent), or by the learner again.
      session.onControlChange((who) => this.writer.marker(`control: ${who}`)),
    );
    if (input) this.unsubscribe.push(stream.onInput((data) => this.writer.input(data)));
    this.timer = setTimeout(() => this.reached(`reached its ${formatDuration(limits.maxDurationMs)} limit`), limits.maxDurationMs);
    this.timer.unref();
  }

  get durationS(): number { return this.writer.duration; }
  get bytes(): number { return this.writer.size; }
  /** Bytes of whole lines already stored (what may be served while it is still written). */
  get flushedBytes(): number { return this.writer.flushed; }
  /** The most bytes the file stream ever buffered, and its longest line (back-pressure keeps the first near bufferBytes). */
  get peakPending(): number { return this.writer.peakPending; }
  get largestLine(): number { return this.writer.largestLine; }
  /** Set when a cap stopped the recording. */
  get stopReason(): string | undefined { return this.limitReason; }

  /** Closes the file, after a marker saying why when a cap stopped it; returns once it is flushed. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      clearTimeout(this.timer);
      this.unsubscribe.splice(0).forEach((off) => off());
      await this.writer.close(this.limitReason ? `recording stopped: ${this.limitReason}` : undefined);
    })();
    return this.stopped;
  }

  private reached(reason: string): void {
    if (this.limitReason || this.stopped) return;
    this.limitReason = reason;
    // Not from inside the output listener that hit the cap: the owner stops us on the next tick.
    queueMicrotask(() => this.limits.onLimit(reason));
  }

  private markStep(session: Session, progress: LabProgress): void {
    const step = session.lab.steps[progress.current];
    this.writer.marker(step ? `${progress.current + 1}. ${step.title}` : 'Finished');
  }
}
