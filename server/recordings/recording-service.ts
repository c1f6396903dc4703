// Starts and stops recordings of session terminals, and closes them when a session ends.
import type { RecordingInfo } from '../../protocol/api.js';
import type { Session } from '../sessions/session.js';
import type { RecordingStore } from './recording-store.js';
import { TerminalRecorder } from './terminal-recorder.js';

interface Active { id: string; recorder: TerminalRecorder; offCloser: () => void }

export class RecordingService {
  private readonly active = new Map<string, Active>();

  constructor(readonly store: RecordingStore) {}

  /** Starts recording (or returns the running recording of) one terminal of a session. */
  start(session: Session, terminal: string, owner: string, input: boolean): RecordingInfo {
    const key = `${session.id}/${terminal}`;
    const running = this.active.get(key);
    if (running) return this.store.get(running.id)!;
    const stream = session.terminal(terminal, { cols: 80, rows: 24 });
    const { info, file } = this.store.create({ owner, lab: session.lab.id, session: session.id, terminal, title: `${session.lab.title} (${terminal})`, input });
    const recorder = new TerminalRecorder(file, session, stream, terminal, input);
    const offCloser = session.addCloser(() => this.stop(session.id, terminal));
    this.active.set(key, { id: info.id, recorder, offCloser });
    return info;
  }

  async stop(session: string, terminal: string): Promise<void> {
    const key = `${session}/${terminal}`;
    const running = this.active.get(key);
    if (!running) return;
    this.active.delete(key);
    running.offCloser();
    await running.recorder.stop();
    this.store.finish(running.id, running.recorder.durationS, running.recorder.bytes);
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

  /** Stops the running recording with this id, if any (before deleting it). */
  async stopById(id: string): Promise<void> {
    for (const [key, a] of this.active) {
      if (a.id === id) {
        const [s, terminal] = key.split('/') as [string, string];
        await this.stop(s, terminal);
      }
    }
  }
}
