// The session's one channel (protocol/messages.ts, Channel 'session'): lab progress (`lab`),
// workshop notices (`seat`), the box's lifetime (`lifetime`, protocol/history.ts) and, under
// `labs dev`, live reload's `lab-changed` (protocol/api.ts) for the whole session, whatever terminals it has. The page follows
// this channel only: one source of truth, shared with the instructor's dashboard.
//
// A Lit reactive controller: it opens the socket when the host enters the document and closes it
// when the host leaves; in between it keeps it open (heartbeat, reconnect with backoff) for as long
// as the session lives.
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { LabChangedMessage, LabProgress, SessionChannelMessage } from '../../protocol/api.js';
import type { LifetimeMessage } from '../../protocol/history.js';
import { PROTOCOL_VERSION, type ExitReason, type HelloMessage, type SessionReadyMessage } from '../../protocol/messages.js';
import type { SeatNotice } from '../../protocol/workshops.js';
import { ProtocolSocket, isSessionGoneClose, type Backoff } from '../terminal/protocol-socket.js';

export type ChannelState = 'connecting' | 'open' | 'reconnecting' | 'ended';

export interface SessionChannelOptions {
  /** Read at each (re)connect; undefined: no session, stay closed. */
  token(): string | undefined;
  onProgress?(progress: LabProgress): void;
  onSeatNotice?(notice: SeatNotice): void;
  /** Live reload (`labs dev` only): the lab's files changed; show the new content and problems, keep the terminals. */
  onLabChanged?(change: LabChangedMessage): void;
  onReady?(ready: SessionReadyMessage): void;
  /** When the box goes and whether it may be extended: right after `session-ready`, and after each extension. */
  onLifetime?(lifetime: LifetimeMessage): void;
  /** A notice about the session that is not fatal (disk-nearly-full...), in words for people. */
  onNotice?(message: string): void;
  /** The session is over (exit, or the server no longer knows the token). */
  onEnded?(reason: ExitReason | 'gone', message: string): void;
  url?: string;
  backoff?: Backoff;
}

export class SessionChannel implements ReactiveController {
  state: ChannelState = 'connecting';
  /** The latest progress, once the first `lab` message came. */
  progress: LabProgress | undefined;

  private readonly socket: ProtocolSocket;
  private connectedHost = false;
  /** The token of the socket being opened (read once per connect). */
  private token = '';

  constructor(private readonly host: ReactiveControllerHost, private readonly options: SessionChannelOptions) {
    host.addController(this);
    this.socket = new ProtocolSocket({
      onOpen: () => this.sendHello(),
      onMessage: (msg) => this.onMessage(msg),
      onClose: (ev) => {
        if (isSessionGoneClose(ev.code)) this.end('gone', 'The lab session has ended.');
        else this.scheduleReconnect();
      },
      onReconnecting: () => this.setState('reconnecting'),
      onRetry: () => this.open(),
    }, { name: 'the session channel', url: options.url, backoff: options.backoff });
  }

  hostConnected(): void {
    this.connectedHost = true;
    this.open();
  }

  hostDisconnected(): void {
    this.connectedHost = false;
    this.socket.close();
  }

  /** Starts over (a different session, or after it ended). */
  restart(): void {
    this.socket.close();
    this.state = 'connecting';
    this.socket.attempt = 0;
    this.progress = undefined;
    if (this.connectedHost) this.open();
  }

  private setState(state: ChannelState): void {
    if (this.state === state) return;
    this.state = state;
    this.host.requestUpdate();
  }

  private open(): void {
    this.socket.close();
    const token = this.options.token();
    if (!token || this.state === 'ended') return;
    this.token = token;
    this.socket.open();
  }

  private sendHello(): void {
    const token = this.token;
    // The session channel has no terminal: no terminal id, size or resume offset.
    const hello: HelloMessage = { type: 'hello', v: PROTOCOL_VERSION, token, channel: 'session' };
    this.socket.send(hello);
  }

  private onMessage(msg: SessionChannelMessage): void {
    switch (msg.type) {
      case 'session-ready':
        this.socket.accepted();
        this.setState('open');
        this.options.onReady?.(msg);
        return;
      case 'lab':
        this.progress = msg.progress;
        this.options.onProgress?.(msg.progress);
        this.host.requestUpdate();
        return;
      case 'seat':
        this.options.onSeatNotice?.(msg.notice);
        this.host.requestUpdate();
        return;
      case 'lab-changed':
        this.options.onLabChanged?.(msg);
        this.host.requestUpdate();
        return;
      case 'lifetime':
        this.options.onLifetime?.(msg);
        this.host.requestUpdate();
        return;
      case 'exit':
        this.end(msg.reason, msg.message);
        return;
      case 'error':
        if (!msg.fatal) this.options.onNotice?.(msg.message);
        else if (msg.code === 'bad-token' || msg.code === 'session-ended') this.end('gone', msg.message);
        else console.warn(`termlab: session channel error ${msg.code}: ${msg.message}`);
        return;
      default:
        return; // pong, and anything newer
    }
  }

  private end(reason: ExitReason | 'gone', message: string): void {
    if (this.state === 'ended') return;
    this.socket.close();
    this.setState('ended');
    this.options.onEnded?.(reason, message);
  }

  private scheduleReconnect(): void {
    if (!this.connectedHost || this.state === 'ended') return;
    this.socket.retryLater();
  }
}
