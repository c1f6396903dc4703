// A read-only view of a learner's terminal (workshops: an instructor or assistant looking over a
// shoulder). It gets what the learner's page gets, a snapshot of the screen then the same output
// frames, but it is a bystander: it takes no part in the terminal's flow control, never resizes it,
// never replaces the learner's socket, and does not keep the session alive. Its own queue is
// bounded: a viewer that cannot keep up is dropped (its page reconnects for a fresh snapshot)
// rather than ever holding back the learner's shell or growing the server's memory.
import type { ErrorCode, ExitReason, ServerMessage } from '../../protocol/messages.js';
import type { Session } from './session.js';
import type { TerminalClient, TerminalStream } from './terminal-stream.js';

/**
 * Bytes a viewer may have waiting to be sent (beyond its first snapshot) before it is dropped.
 * At a flood's 20+ MB/s this is a few tens of ms of output; a viewer on a working link keeps its
 * queue near zero, and one that pauses longer gets a fresh snapshot, which is all it needs.
 */
export const VIEWER_QUEUE_BYTES = 1024 * 1024;

/** The socket of one view (client-connection.ts). */
export interface ViewerSocket extends TerminalClient {
  send(msg: ServerMessage): void;
  /** Bytes handed to the socket and not yet to the network. */
  readonly queuedBytes: number;
  /** Ends the view with a fatal error (too-slow) or because the session ended. */
  fail(code: ErrorCode, detail?: string): void;
  exit(reason: ExitReason): void;
}

export type ViewerRole = 'instructor' | 'assistant';

export class TerminalViewer {
  private readonly unsubscribe: Array<() => void> = [];
  /** Set once the snapshot went: output before it would be out of order (it is in the snapshot). */
  private started = false;
  private stopped = false;
  /** Queue bound: VIEWER_QUEUE_BYTES plus the snapshot's own size, which may be larger on its own. */
  private allowance = VIEWER_QUEUE_BYTES;
  private lastRefusal = 0;

  private readonly stream: TerminalStream;

  /**
   * A view of `terminal` of `session`, ready for input at once; start() sends the screen. A
   * terminal the learner has not opened yet starts at 80x24, never at the viewer's size (the
   * learner's page resizes it when it attaches).
   */
  constructor(readonly session: Session, readonly terminal: string, readonly role: ViewerRole, private readonly socket: ViewerSocket) {
    const stream = session.terminal(terminal, { cols: 80, rows: 24 });
    this.stream = stream;
    this.unsubscribe.push(
      session.onEnd((reason) => socket.exit(reason)),
      session.onControlChange(() => this.sendControl()),
      stream.onResize((cols, rows) => { if (this.started) this.send({ type: 'resized', cols, rows }); }),
    );
    session.addViewer(1);
  }

  /** Sends `resized`, the snapshot and the bytes after it, then `control` and `ready`; live output follows. */
  async start(): Promise<void> {
    const { session, stream, terminal } = this;
    const offWatch = await stream.watch({
      sendSnapshot: (offset, screen) => {
        // The size first: the page lays the snapshot out at the learner's size, not its own.
        this.send({ type: 'resized', ...stream.size });
        this.socket.sendSnapshot(offset, screen);
        this.allowance = VIEWER_QUEUE_BYTES + Buffer.byteLength(screen);
        this.started = true;
      },
      sendOutput: (offset, bytes) => this.output(offset, bytes),
    });
    if (this.stopped) return offWatch();
    this.unsubscribe.push(offWatch);
    this.sendControl();
    this.send({
      type: 'ready', session: session.id, terminal, offset: stream.endOffset, cols: stream.size.cols, rows: stream.size.rows,
      expiresAt: session.expiresAt, idleTimeoutMs: session.idleTimeoutMs,
    });
  }

  /** Input beyond the shell's limits, dropped (for the input-dropped notice). */
  get inputDropped(): number { return this.stream.inputDropped; }
  get inputHighWater(): number { return this.stream.inputHighWater; }

  /** Only an instructor's view types, and only while the learner has handed control over. */
  get canType(): boolean { return this.role === 'instructor' && this.session.control === 'instructor'; }

  /**
   * Keystrokes from the view: refused (`read-only`, the socket goes on) unless canType; then they go
   * to the shell with the same limits as the learner's. False when the shell dropped them.
   */
  input(data: string): boolean {
    if (this.stopped) return true;
    if (!this.canType) {
      // Once a second is enough to say it; a page that keeps typing is not told thousands of times.
      const now = Date.now();
      if (now - this.lastRefusal >= 1000) {
        this.lastRefusal = now;
        this.socket.send({ type: 'error', code: 'read-only', fatal: false, message: this.role === 'assistant'
          ? 'this is a read-only view: an assistant cannot type into a learner\'s terminal'
          : 'this is a read-only view: typing needs the learner to hand control over to the instructor' });
      }
      return true;
    }
    return this.stream.write(data);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe.splice(0).forEach((off) => off());
    this.session.addViewer(-1);
  }

  private output(offset: number, bytes: Uint8Array): void {
    if (!this.started || this.stopped) return;
    if (this.overQueue(bytes.byteLength)) return;
    this.socket.sendOutput(offset, bytes);
  }

  private send(msg: ServerMessage): void {
    if (this.stopped) return;
    if (this.overQueue(0)) return;
    this.socket.send(msg);
  }

  private sendControl(): void {
    this.send({ type: 'control', control: this.session.control, canType: this.canType });
  }

  /** True (and the view dropped) when sending `more` bytes would pass the queue bound. */
  private overQueue(more: number): boolean {
    const queued = this.socket.queuedBytes;
    if (queued + more <= this.allowance) return false;
    this.stop();
    this.socket.fail('too-slow', `this view fell ${Math.round(queued / 1024)} KiB behind the learner's terminal and was dropped; ` +
      'reconnect with a new view ticket for a fresh snapshot');
    return true;
  }
}
