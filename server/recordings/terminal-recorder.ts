// Records one terminal of a session into an asciicast file: its output as it happens (whoever is
// attached, so a reconnect leaves no gap and no duplicate), every resize, a marker at each lab step,
// and keystrokes only when asked for (they can hold passwords).
import type { LabProgress } from '../../protocol/api.js';
import type { Session } from '../sessions/session.js';
import type { TerminalStream } from '../sessions/terminal-stream.js';
import { CastWriter } from './cast-writer.js';

export class TerminalRecorder {
  private readonly writer: CastWriter;
  private readonly unsubscribe: Array<() => void> = [];
  private step: number;
  private stopped: Promise<void> | undefined;

  constructor(file: string, session: Session, stream: TerminalStream, terminal: string, input: boolean) {
    const { cols, rows } = stream.size;
    this.writer = new CastWriter(file, { width: cols, height: rows, title: `${session.lab.title} (${terminal})` });
    const progress = session.runner.progress();
    this.step = progress.current;
    this.markStep(session, progress);
    this.unsubscribe.push(
      stream.onOutput((_offset, bytes) => this.writer.output(bytes)),
      stream.onResize((c, r) => this.writer.resize(c, r)),
      session.runner.onChange((p) => {
        if (p.current === this.step) return;
        this.step = p.current;
        this.markStep(session, p);
      }),
    );
    if (input) this.unsubscribe.push(stream.onInput((data) => this.writer.input(data)));
  }

  get durationS(): number { return this.writer.duration; }
  get bytes(): number { return this.writer.size; }

  /** Closes the file; returns once it is flushed. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.unsubscribe.splice(0).forEach((off) => off());
      await this.writer.close();
    })();
    return this.stopped;
  }

  private markStep(session: Session, progress: LabProgress): void {
    const step = session.lab.steps[progress.current];
    this.writer.marker(step ? `${progress.current + 1}. ${step.title}` : 'Finished');
  }
}
