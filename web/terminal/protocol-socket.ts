// One WebSocket speaking protocol/messages.ts, kept alive: the plumbing that the terminal
// (connection.ts), the session channel (lab/session-channel.ts) and the read-only view
// (view-connection.ts) share. What each says (hello) and does with the messages stays theirs.
//
// - At most one socket at a time: opening again drops the old one first, its handlers removed, so
//   a socket being replaced can never report its own close.
// - Heartbeat: a ping every HEARTBEAT_MS; any message from the server answers it. Three pings with
//   nothing in between mean the socket is dead although TCP has not noticed (a sleeping laptop, a
//   proxy that dropped it), so it is dropped and opened again.
// - Reconnect with backoff: each failure doubles the wait (up to a maximum) until the server
//   accepts a hello again (`accepted()`), so a server that is down is not hammered. The browser
//   coming back online skips the rest of the wait.
import { WS_PATH } from '../../protocol/api.js';
import { CLOSE, HEARTBEAT_MS, type ClientMessage, type ServerMessage } from '../../protocol/messages.js';

export interface Backoff { initial: number; max: number }

export const DEFAULT_BACKOFF: Backoff = { initial: 250, max: 5000 };

/** Pings in a row without any message from the server before the socket counts as dead. */
const MAX_UNANSWERED = 3;

export function defaultSocketUrl(): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${WS_PATH}`;
}

/** Close codes after which the session is over: reconnecting could never succeed. */
export function isSessionGoneClose(code: number): boolean {
  return code === CLOSE.badToken || code === CLOSE.sessionEnded;
}

/** What the owner of the socket decides. */
export interface ProtocolSocketEvents {
  /** The socket is open: say hello (only the owner knows its channel, token and size). */
  onOpen(): void;
  /** A text frame, parsed. Frames that are not JSON are dropped. */
  onMessage(msg: ServerMessage): void;
  onBinary?(bytes: Uint8Array): void;
  /** The socket closed without being asked to (the socket is already dropped): end, or `retryLater`. */
  onClose(ev: CloseEvent): void;
  /** A reconnect is waiting: `attempt` counts from 1; `message` says why, for a status line. */
  onReconnecting?(attempt: number, message: string | undefined): void;
  /** The wait is over: open again (a view fetches a fresh ticket first, so the owner opens). */
  onRetry(): void;
}

export interface ProtocolSocketOptions {
  /** For log lines: "the session channel". */
  name: string;
  /** Defaults to ws(s)://<page host>/ws. */
  url?: string;
  heartbeatMs?: number;
  backoff?: Backoff;
  /** Tests pass a fake. */
  createSocket?(url: string): WebSocket;
}

export class ProtocolSocket {
  /** Failed attempts since the server last accepted a hello. */
  attempt = 0;

  private ws: WebSocket | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private unanswered = 0;
  private pingId = 0;

  constructor(private readonly events: ProtocolSocketEvents, private readonly options: ProtocolSocketOptions) {}

  /** A reconnect is waiting for its backoff. */
  get retrying(): boolean {
    return this.retryTimer !== undefined;
  }

  /** Opens a socket in place of the current one (or schedules a retry if the browser refuses to make one). */
  open(): void {
    this.close();
    const url = this.options.url ?? defaultSocketUrl();
    let ws: WebSocket;
    try {
      ws = this.options.createSocket ? this.options.createSocket(url) : new WebSocket(url);
    } catch (err) {
      console.error(`termlab: cannot open ${this.options.name}`, err);
      this.retryLater();
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.unanswered = 0;
    ws.onopen = () => this.events.onOpen();
    ws.onmessage = (ev: MessageEvent) => this.onSocketMessage(ev);
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return;
      this.close();
      this.events.onClose(ev);
    };
    // The heartbeat also bounds how long a socket may take to open.
    this.heartbeat = setInterval(() => this.beat(), this.options.heartbeatMs ?? HEARTBEAT_MS);
  }

  /** Sends on the open socket; false (nothing sent) when there is none. */
  send(msg: ClientMessage): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  /** The server accepted the hello: the next failure waits the shortest time again. */
  accepted(): void {
    this.attempt = 0;
  }

  /** Drops the socket and opens again (through `onRetry`) after the backoff. */
  retryLater(message?: string): void {
    this.close();
    this.attempt++;
    const backoff = this.options.backoff ?? DEFAULT_BACKOFF;
    const delay = Math.min(backoff.initial * 2 ** (this.attempt - 1), backoff.max);
    this.events.onReconnecting?.(this.attempt, message);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.stopListeningOnline();
      this.events.onRetry();
    }, delay);
    if (typeof window !== 'undefined') window.addEventListener('online', this.onOnline);
  }

  /** Drops the socket and any waiting retry; nothing more happens until `open` or `retryLater`. */
  close(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.stopListeningOnline();
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    const ws = this.ws;
    this.ws = undefined;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) {
      try {
        ws.close(1000);
      } catch { /* closing a socket cannot usefully fail */ }
    }
  }

  /** Back online: the network that failed us is back, so the rest of the backoff is pointless. */
  private readonly onOnline = (): void => {
    if (this.retryTimer === undefined) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.stopListeningOnline();
    this.events.onRetry();
  };

  private stopListeningOnline(): void {
    if (typeof window !== 'undefined') window.removeEventListener('online', this.onOnline);
  }

  private beat(): void {
    if (this.unanswered >= MAX_UNANSWERED) {
      console.warn(`termlab: no message on ${this.options.name} for ${MAX_UNANSWERED} heartbeats; reconnecting`);
      this.retryLater('The connection went quiet');
      return;
    }
    this.unanswered++;
    this.send({ type: 'ping', id: ++this.pingId });
  }

  private onSocketMessage(ev: MessageEvent): void {
    this.unanswered = 0;
    if (typeof ev.data === 'string') {
      let msg: ServerMessage;
      try {
        msg = JSON.parse(ev.data) as ServerMessage;
      } catch {
        console.warn(`termlab: ignoring a text frame on ${this.options.name} that is not JSON`);
        return;
      }
      this.events.onMessage(msg);
    } else if (ev.data instanceof ArrayBuffer) {
      this.events.onBinary?.(new Uint8Array(ev.data));
    }
  }
}
