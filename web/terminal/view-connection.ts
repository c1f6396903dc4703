// A read-only view of a learner's terminal (workshops): protocol/messages.ts Channel 'view'.
//
// Not a TerminalConnection: a view has no part in flow control (no acks), never resizes the
// learner's terminal (no resize messages; its size follows the learner's `resized`), never resumes
// (each connection starts from a snapshot) and needs a fresh single-use ticket for every connection.
// Keystrokes go out only while the server says this view may type (the learner handed control to
// the instructor); the server enforces it too. The socket itself (heartbeat, reconnect with backoff)
// is a ProtocolSocket, as for the terminal and the session channel.
import type { Terminal } from '@xterm/xterm';
import {
  CLOSE, FRAME_SNAPSHOT, MAX_COLS, MAX_ROWS, PROTOCOL_VERSION, decodeBinaryFrame, type ServerMessage,
} from '../../protocol/messages.js';
import { Disposable, Emitter, type IEvent } from '../lifecycle.js';
import { splitInput } from './connection.js';
import { ProtocolSocket, isSessionGoneClose, type Backoff } from './protocol-socket.js';

export type ViewState = 'connecting' | 'connected' | 'reconnecting' | 'ended';
export interface ViewStatus { state: ViewState; message?: string }
export interface ViewControl { control: 'learner' | 'instructor'; canType: boolean }

export interface ViewConnectionOptions {
  /** A fresh ticket for each connection (POST .../seats/:seat/view). Throwing ends the view with its message. */
  ticket(): Promise<string>;
  terminal: string;
  url?: string;
  backoff?: Backoff;
}

export class ViewConnection extends Disposable {
  private readonly statusEmitter = this.register(new Emitter<ViewStatus>());
  readonly onStatusChange: IEvent<ViewStatus> = this.statusEmitter.event;
  private readonly controlEmitter = this.register(new Emitter<ViewControl>());
  /** Who types into the learner's terminal, and whether this view may. */
  readonly onControl: IEvent<ViewControl> = this.controlEmitter.event;

  status: ViewStatus = { state: 'connecting' };
  control: ViewControl = { control: 'learner', canType: false };

  private readonly socket: ProtocolSocket;
  /** The ticket of the socket being opened (single-use: each connection fetches its own). */
  private ticket = '';
  private written = 0;
  private ended = false;

  constructor(private readonly term: Terminal, private readonly options: ViewConnectionOptions) {
    super();
    this.socket = new ProtocolSocket({
      onOpen: () => this.sendHello(),
      onMessage: (msg) => this.onMessage(msg),
      onBinary: (bytes) => this.onBinary(bytes),
      onClose: (ev) => {
        if (isSessionGoneClose(ev.code)) this.end('The learner\'s lab session has ended.');
        else this.scheduleReconnect(ev.code === CLOSE.tooSlow ? 'The view fell behind; reloading the screen' : 'Connection lost');
      },
      onReconnecting: (_attempt, message) => this.setStatus({ state: 'reconnecting', message }),
      onRetry: () => void this.open(),
    }, { name: 'the terminal view', url: options.url, backoff: options.backoff });
    this.register(term.onData((data) => this.sendInput(data)));
    this.register({ dispose: () => this.socket.close() });
    void this.open();
  }

  /** Sends keystrokes to the learner's shell; false (nothing sent) unless the learner handed control over. */
  sendInput(data: string): boolean {
    if (!this.control.canType) return false;
    for (const piece of splitInput(data)) {
      if (!this.socket.send({ type: 'input', data: piece })) return false;
    }
    return true;
  }

  /** Connects again now, with a fresh ticket and a fresh snapshot. */
  reconnect(): void {
    if (this.isDisposed) return;
    this.ended = false;
    this.socket.attempt = 0;
    void this.open();
  }

  private setStatus(status: ViewStatus): void {
    this.status = status;
    this.statusEmitter.fire(status);
  }

  private async open(): Promise<void> {
    this.socket.close();
    if (this.isDisposed || this.ended) return;
    this.setStatus({ state: this.socket.attempt > 0 ? 'reconnecting' : 'connecting' });
    let ticket: string;
    try {
      ticket = await this.options.ticket();
    } catch (err) {
      this.end(`Cannot view this terminal: ${(err as Error).message}`);
      return;
    }
    if (this.isDisposed || this.ended) return;
    this.ticket = ticket;
    this.socket.open();
  }

  private sendHello(): void {
    const cols = Math.min(MAX_COLS, Math.max(2, this.term.cols));
    const rows = Math.min(MAX_ROWS, Math.max(1, this.term.rows));
    this.socket.send({ type: 'hello', v: PROTOCOL_VERSION, token: this.ticket, channel: 'view', terminal: this.options.terminal, cols, rows });
  }

  private onMessage(msg: ServerMessage): void {
    switch (msg.type) {
      case 'resized':
        if (msg.cols !== this.term.cols || msg.rows !== this.term.rows) this.term.resize(msg.cols, msg.rows);
        return;
      case 'control':
        this.control = { control: msg.control, canType: msg.canType };
        this.controlEmitter.fire(this.control);
        return;
      case 'ready':
        this.socket.accepted();
        this.setStatus({ state: 'connected' });
        return;
      case 'exit':
        this.end(msg.message);
        return;
      case 'error':
        if (!msg.fatal) this.setStatus({ ...this.status, message: msg.message });
        else if (msg.code === 'too-slow') this.scheduleReconnect('The view fell behind; reloading the screen');
        else if (msg.code !== 'internal') this.end(msg.message);
        return;
      default:
        return;
    }
  }

  private onBinary(bytes: Uint8Array): void {
    let frame;
    try {
      frame = decodeBinaryFrame(bytes);
    } catch {
      return;
    }
    if (frame.kind === FRAME_SNAPSHOT) {
      this.term.reset();
      this.term.write(frame.payload);
      this.written = frame.offset;
      return;
    }
    const end = frame.offset + frame.payload.byteLength;
    if (end <= this.written) return;
    if (frame.offset > this.written) {
      this.scheduleReconnect('Output was missed; reloading the screen');
      return;
    }
    this.term.write(frame.offset === this.written ? frame.payload : frame.payload.subarray(this.written - frame.offset));
    this.written = end;
  }

  private scheduleReconnect(message: string): void {
    this.socket.close();
    if (this.isDisposed || this.ended) return;
    this.socket.retryLater(message);
  }

  private end(message: string): void {
    this.socket.close();
    this.ended = true;
    this.setStatus({ state: 'ended', message });
  }
}
