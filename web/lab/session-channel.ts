// The session's one channel (protocol/messages.ts, Channel 'session'): lab progress (`lab`) and
// workshop notices (`seat`) for the whole session, whatever terminals it has. The page follows
// this channel only: one source of truth, shared with the instructor's dashboard.
//
// A Lit reactive controller: it opens the socket when the host enters the document and closes it
// when the host leaves; in between it keeps it open (heartbeat, reconnect with backoff) for as long
// as the session lives.
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { LabProgress } from '../../protocol/api.js';
import {
  CLOSE, HEARTBEAT_MS, PROTOCOL_VERSION, type ExitReason, type HelloMessage, type ServerMessage, type SessionReadyMessage,
} from '../../protocol/messages.js';
import type { SeatNotice } from '../../protocol/workshops.js';
import { defaultSocketUrl } from '../terminal/connection.js';

export type ChannelState = 'connecting' | 'open' | 'reconnecting' | 'ended';

export interface SessionChannelOptions {
  /** Read at each (re)connect; undefined: no session, stay closed. */
  token(): string | undefined;
  onProgress?(progress: LabProgress): void;
  onSeatNotice?(notice: SeatNotice): void;
  onReady?(ready: SessionReadyMessage): void;
  /** A notice about the session that is not fatal (disk-nearly-full...), in words for people. */
  onNotice?(message: string): void;
  /** The session is over (exit, or the server no longer knows the token). */
  onEnded?(reason: ExitReason | 'gone', message: string): void;
  url?: string;
  backoff?: { initial: number; max: number };
}

const DEFAULT_BACKOFF = { initial: 250, max: 5000 };

export class SessionChannel implements ReactiveController {
  state: ChannelState = 'connecting';
  /** The latest progress, once the first `lab` message came. */
  progress: LabProgress | undefined;

  private ws: WebSocket | undefined;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private unanswered = 0;
  private pingId = 0;
  private connectedHost = false;

  constructor(private readonly host: ReactiveControllerHost, private readonly options: SessionChannelOptions) {
    host.addController(this);
  }

  hostConnected(): void {
    this.connectedHost = true;
    window.addEventListener('online', this.onOnline);
    this.open();
  }

  hostDisconnected(): void {
    this.connectedHost = false;
    window.removeEventListener('online', this.onOnline);
    this.close();
  }

  /** Starts over (a different session, or after it ended). */
  restart(): void {
    this.close();
    this.state = 'connecting';
    this.attempt = 0;
    this.progress = undefined;
    if (this.connectedHost) this.open();
  }

  private readonly onOnline = (): void => {
    if (this.reconnectTimer !== undefined) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
      this.open();
    }
  };

  private setState(state: ChannelState): void {
    if (this.state === state) return;
    this.state = state;
    this.host.requestUpdate();
  }

  private open(): void {
    this.close();
    const token = this.options.token();
    if (!token || this.state === 'ended') return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.options.url ?? defaultSocketUrl());
    } catch (err) {
      console.error('termlab: cannot open the session channel', err);
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.unanswered = 0;
    ws.onopen = () => {
      // The session channel has no terminal: no terminal id, size or resume offset.
      const hello: HelloMessage = { type: 'hello', v: PROTOCOL_VERSION, token, channel: 'session' };
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (ev) => {
      this.unanswered = 0;
      if (typeof ev.data === 'string') this.onText(ev.data);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.stopHeartbeat();
      if (ev.code === CLOSE.badToken || ev.code === CLOSE.sessionEnded) this.end('gone', 'The lab session has ended.');
      else if (this.state !== 'ended') this.scheduleReconnect();
    };
    this.heartbeat = setInterval(() => {
      if (this.unanswered >= 3) {
        console.warn('termlab: the session channel went quiet; reconnecting');
        this.scheduleReconnect();
        return;
      }
      this.unanswered++;
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'ping', id: ++this.pingId }));
    }, HEARTBEAT_MS);
  }

  private onText(text: string): void {
    let msg: ServerMessage;
    try {
      msg = JSON.parse(text) as ServerMessage;
    } catch {
      return;
    }
    switch (msg.type) {
      case 'session-ready':
        this.attempt = 0;
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
    this.close();
    this.setState('ended');
    this.options.onEnded?.(reason, message);
  }

  private scheduleReconnect(): void {
    this.close();
    if (!this.connectedHost || this.state === 'ended') return;
    this.attempt++;
    this.setState('reconnecting');
    const backoff = this.options.backoff ?? DEFAULT_BACKOFF;
    const delay = Math.min(backoff.initial * 2 ** (this.attempt - 1), backoff.max);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.open();
    }, delay);
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private close(): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.stopHeartbeat();
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close(1000);
    }
  }
}
