// The WebSocket side of one terminal: the protocol in protocol/messages.ts, spoken from the browser.
//
// - Output is sequenced by byte offset. The connection remembers the offset just after the last
//   byte handed to the terminal (`outputOffset`); after a network blip it says `resumeFrom` that
//   offset, so nothing is lost and nothing is shown twice. A fresh terminal sends no `resumeFrom`
//   and gets a snapshot of the screen instead.
// - Flow control: bytes count as processed when xterm.js has parsed them (the write callback); the
//   connection acknowledges every ACK_EVERY_BYTES and when writing goes idle, and the server stops
//   reading the shell while too much is unacknowledged. A `yes` flood cannot freeze the tab.
// - Heartbeat and reconnect (protocol-socket.ts): a ping every HEARTBEAT_MS; three pings without any
//   message in between mean the socket is dead. Unexpected closes reconnect with backoff for as long
//   as the session lives, resuming from `outputOffset`.
import type { Terminal } from '@xterm/xterm';
import {
  ACK_EVERY_BYTES, CLOSE, FRAME_SNAPSHOT, MAX_CLIENT_FRAME_BYTES, MAX_COLS, MAX_INPUT_CHARS, MAX_ROWS,
  PROTOCOL_VERSION, decodeBinaryFrame, joinBytes,
  type ClientMessage, type ErrorCode, type ErrorMessage, type ExitReason, type ReadyMessage, type ServerMessage,
} from '../../protocol/messages.js';
import { fastForward, skipState } from '../../protocol/fast-forward.js';
import { Disposable, Emitter, MutableDisposable, disposableTimeout, type IDisposable, type IEvent } from '../lifecycle.js';
import { ProtocolSocket, type Backoff } from './protocol-socket.js';

export { defaultSocketUrl } from './protocol-socket.js';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'ended';

/** Why a connection ended: the server's exit reason or error code, or a close code without either. */
export type EndReason = ExitReason | ErrorCode | 'protocol-error' | 'closed';

export interface ConnectionStatus {
  state: ConnectionState;
  /** While reconnecting: the attempt number, from 1. Otherwise 0. */
  attempt: number;
  /** Set when ended. */
  reason?: EndReason;
  /** For people: why it ended, or the latest non-fatal error while connected. */
  message?: string;
  /** Ended because the session no longer exists: the only way on is back to the lab list. */
  sessionGone: boolean;
}

/** The part of an xterm.js Terminal the connection uses (so tests can pass a fake). */
export type ConnectionTerminal = Pick<Terminal, 'cols' | 'rows' | 'write' | 'reset' | 'onData' | 'onResize' | 'options' | 'modes'>;

export interface TerminalConnectionOptions {
  /** Session token (SessionInfo.token). */
  token: string;
  /** Terminal id within the session. */
  terminal?: string;
  /** WebSocket URL; defaults to ws(s)://<page host>/ws. */
  url?: string;
  heartbeatMs?: number;
  reconnectDelayMs?: Backoff;
  resizeDebounceMs?: number;
  /** Start connecting in the constructor (default true). */
  autoConnect?: boolean;
  createSocket?: (url: string) => WebSocket;
}

/** Acknowledgements are at least this far apart... */
const MIN_ACK_INTERVAL_MS = 10;
/** ...and follow this soon after the terminal has parsed everything it was given. */
const IDLE_ACK_DELAY_MS = 20;
/** Non-fatal errors stay in the status line this long. */
const NOTICE_MS = 8000;

const END_TEXT: Partial<Record<EndReason, string>> = {
  'bad-token': 'This lab session no longer exists (it ended or expired). Go back to the lab list to start a new one.',
  'no-terminal': 'This lab session has no such terminal.',
  'session-ended': 'The lab session has ended.',
  'replaced': 'This terminal was opened in another window or tab.',
  'bad-version': 'The server speaks a newer protocol: reload the page.',
  'protocol-error': 'The server closed the connection after a protocol error.',
};

/** Reasons after which the session is known to be over (as opposed to this window losing it). */
const GONE: ReadonlySet<EndReason> = new Set<EndReason>([
  'bad-token', 'no-terminal', 'session-ended', 'ended', 'idle-timeout', 'max-lifetime', 'shell-exited', 'server-stopping', 'box-failed',
]);

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.floor(value)));
}

const encoder = new TextEncoder();

/**
 * Splits typed or pasted text into `input` payloads the server accepts: at most MAX_INPUT_CHARS
 * UTF-16 units and a JSON frame of at most MAX_CLIENT_FRAME_BYTES, never inside a surrogate pair.
 */
export function splitInput(data: string): string[] {
  const pieces: string[] = [];
  let start = 0;
  while (start < data.length) {
    let end = Math.min(start + MAX_INPUT_CHARS, data.length);
    for (;;) {
      if (end < data.length && end - start > 1) {
        const last = data.charCodeAt(end - 1);
        if (last >= 0xd800 && last <= 0xdbff) end--;
      }
      const frame = JSON.stringify({ type: 'input', data: data.slice(start, end) });
      // Control characters become \u00XX in JSON: a piece can be six times its length in bytes.
      if (end - start <= 1 || encoder.encode(frame).byteLength <= MAX_CLIENT_FRAME_BYTES) break;
      end = start + Math.ceil((end - start) / 2);
    }
    pieces.push(data.slice(start, end));
    start = end;
  }
  return pieces;
}

export class TerminalConnection extends Disposable {
  private readonly statusEmitter = this.register(new Emitter<ConnectionStatus>());
  /** Fires on every status change. */
  readonly onStatusChange: IEvent<ConnectionStatus> = this.statusEmitter.event;
  private readonly readyEmitter = this.register(new Emitter<ReadyMessage>());
  /** Fires each time the server accepts the connection (first connect and every reconnect). */
  readonly onReady: IEvent<ReadyMessage> = this.readyEmitter.event;

  private readonly resizeDebounceMs: number;

  private readonly socket: ProtocolSocket;
  private readonly resizeTimer = this.register(new MutableDisposable<IDisposable>());
  private readonly noticeTimer = this.register(new MutableDisposable<IDisposable>());
  private readonly ackTimer = this.register(new MutableDisposable<IDisposable>());

  private currentStatus: ConnectionStatus = { state: 'connecting', attempt: 0, sessionGone: false };
  private readyMessage: ReadyMessage | undefined;
  /** The server accepted hello on the current socket. */
  private isReady = false;
  private ended = false;
  private hasConnectedOnce = false;
  /** What the next hello resumes from (undefined: a fresh terminal, which gets a snapshot). */
  private resumeFrom: number | undefined;

  // Output stream state. `epoch` changes when the terminal is reset; write callbacks of an older
  // epoch are ignored.
  private epoch = 0;
  /** The terminal holds output of the stream (so a reconnect can resume). */
  private hasStream = false;
  /** Offset just after the last byte handed to term.write. */
  private written = 0;
  /** Offset just after the last byte xterm.js has parsed. */
  private processed = 0;
  /** A write is in xterm.js's hands, or the next one is about to be (writeOutput, handOver). */
  private writing = false;
  /**
   * Hands what waited to xterm.js in a task of its own (see handOver). A message channel, not
   * setTimeout: a timer set from a timer's task counts as nested, and Chromium holds nested timers
   * at least 4 ms.
   */
  private readonly handOverChannel = new MessageChannel();
  /** Output that arrived meanwhile; it ends at `written`. */
  private waiting: Uint8Array[] = [];
  /** Highest offset acknowledged on the current socket. */
  private acked = 0;
  private lastAckAt = -Infinity;

  private lastSize: { cols: number; rows: number } | undefined;

  constructor(private readonly term: ConnectionTerminal, private readonly options: TerminalConnectionOptions) {
    super();
    this.resizeDebounceMs = options.resizeDebounceMs ?? 50;
    this.socket = new ProtocolSocket({
      onOpen: () => this.sendHello(),
      onMessage: (msg) => this.onText(msg),
      onBinary: (bytes) => this.onBinary(bytes),
      onClose: (ev) => this.onSocketClose(ev),
      onReconnecting: (attempt, message) => {
        // The socket is gone (this also follows a heartbeat that went unanswered).
        this.isReady = false;
        this.ackTimer.clear();
        this.setStatus({ state: 'reconnecting', attempt, sessionGone: false, message });
      },
      onRetry: () => this.openSocket(),
    }, {
      name: 'the terminal WebSocket', url: options.url, heartbeatMs: options.heartbeatMs, backoff: options.reconnectDelayMs,
      createSocket: options.createSocket,
    });
    this.register({ dispose: () => this.socket.close() });
    this.handOverChannel.port1.onmessage = (ev: MessageEvent<number>) => this.handOver(ev.data);
    this.register({ dispose: () => { this.handOverChannel.port1.close(); this.handOverChannel.port2.close(); } });
    this.register(term.onData((data) => { this.sendInput(data); }));
    this.register(term.onResize(() => this.scheduleResize()));
    if (options.autoConnect !== false) this.openSocket();
  }

  get status(): ConnectionStatus {
    return this.currentStatus;
  }

  /** The last `ready` from the server (session id, expiry, ...). */
  get ready(): ReadyMessage | undefined {
    return this.readyMessage;
  }

  /** Offset just after the last output byte handed to the terminal (the next resumeFrom). */
  get outputOffset(): number {
    return this.written;
  }

  /** Offset just after the last output byte the terminal has parsed. */
  get processedOffset(): number {
    return this.processed;
  }

  /**
   * Connects now: skips a pending backoff delay, or takes the terminal back after it was opened
   * elsewhere (reason `replaced`). Does nothing once the session is gone.
   */
  reconnect(): void {
    if (this.isDisposed || this.currentStatus.sessionGone) return;
    this.ended = false;
    this.openSocket();
  }

  // ---- socket lifecycle ----

  private openSocket(): void {
    if (this.isDisposed || this.ended) return;
    this.closeSocket();
    const attempt = this.socket.attempt;
    this.setStatus(this.hasConnectedOnce || attempt > 0
      ? { state: 'reconnecting', attempt: Math.max(1, attempt), sessionGone: false }
      : { state: 'connecting', attempt: 0, sessionGone: false });
    this.resumeFrom = this.hasStream ? this.written : undefined;
    this.acked = this.resumeFrom ?? 0;
    this.socket.open();
  }

  /** Drops the current socket (its close event is not seen) and any waiting reconnect. */
  private closeSocket(): void {
    this.isReady = false;
    this.ackTimer.clear();
    this.socket.close();
  }

  private scheduleReconnect(message?: string): void {
    if (this.isDisposed || this.ended) return;
    this.closeSocket();
    this.socket.retryLater(message);
  }

  private end(reason: EndReason, message?: string): void {
    if (this.ended) return;
    this.ended = true;
    this.closeSocket();
    this.resizeTimer.clear();
    this.noticeTimer.clear();
    this.setStatus({
      state: 'ended', attempt: 0, reason, sessionGone: GONE.has(reason),
      message: message ?? END_TEXT[reason] ?? `The connection ended (${reason}).`,
    });
  }

  private onSocketClose(ev: CloseEvent): void {
    this.isReady = false;
    this.ackTimer.clear();
    if (this.ended || this.isDisposed) return;
    switch (ev.code) {
      case CLOSE.badToken: return this.end('bad-token');
      case CLOSE.sessionEnded: return this.end('session-ended');
      case CLOSE.replaced: return this.end('replaced');
      // Fatal errors arrive as an `error` message first; a bare protocol-error close is just as final.
      case CLOSE.protocolError: return this.end('protocol-error', ev.reason ? `${END_TEXT['protocol-error']} (${ev.reason})` : undefined);
      default: return this.scheduleReconnect();
    }
  }

  // ---- client to server ----

  private send(msg: ClientMessage): boolean {
    return this.socket.send(msg);
  }

  private currentSize(): { cols: number; rows: number } {
    return { cols: clamp(this.term.cols, 2, MAX_COLS), rows: clamp(this.term.rows, 1, MAX_ROWS) };
  }

  private sendHello(): void {
    const size = this.currentSize();
    const hello: ClientMessage = {
      type: 'hello', v: PROTOCOL_VERSION, token: this.options.token, terminal: this.options.terminal ?? 'main', ...size,
    };
    if (this.resumeFrom !== undefined) hello.resumeFrom = this.resumeFrom;
    if (this.send(hello)) this.lastSize = size;
  }

  /**
   * Sends keyboard input to the shell, as if typed. False when it could not be sent: input while
   * disconnected is dropped, as a real terminal line would drop it.
   */
  sendInput(data: string): boolean {
    if (!this.isReady) return false;
    for (const piece of splitInput(data)) {
      if (!this.send({ type: 'input', data: piece })) return false;
    }
    return true;
  }

  private scheduleResize(): void {
    if (this.ended) return;
    this.resizeTimer.value = disposableTimeout(() => {
      this.resizeTimer.clear();
      this.sendResizeIfChanged();
    }, this.resizeDebounceMs);
  }

  private sendResizeIfChanged(): void {
    if (!this.isReady) return;
    const size = this.currentSize();
    if (this.lastSize && this.lastSize.cols === size.cols && this.lastSize.rows === size.rows) return;
    if (this.send({ type: 'resize', ...size })) this.lastSize = size;
  }

  /**
   * Acknowledges at least every ACK_EVERY_BYTES, but no more often than every MIN_ACK_INTERVAL_MS
   * (a fast flood must not trip the server's message rate limit), and shortly after writing goes
   * idle, so the server always learns where the terminal is. While xterm.js is still parsing, the
   * next write's callback looks again: a timer per write cost a flood's page more than the acks.
   */
  private maybeAck(): void {
    if (!this.isReady) return;
    const unacked = this.processed - this.acked;
    if (unacked <= 0) return;
    const wait = unacked >= ACK_EVERY_BYTES ? this.lastAckAt + MIN_ACK_INTERVAL_MS - performance.now() : IDLE_ACK_DELAY_MS;
    if (unacked >= ACK_EVERY_BYTES && wait <= 0) this.sendAck();
    else if (!this.writing && !this.ackTimer.value) this.ackTimer.value = disposableTimeout(() => this.sendAck(), wait);
  }

  private sendAck(): void {
    this.ackTimer.clear();
    if (!this.isReady || this.processed <= this.acked) return;
    if (this.send({ type: 'ack', offset: this.processed })) {
      this.acked = this.processed;
      this.lastAckAt = performance.now();
    }
  }

  // ---- server to client ----

  private onText(msg: ServerMessage): void {
    switch (msg.type) {
      case 'ready': return this.onServerReady(msg);
      case 'pong': return;
      case 'error': return this.onServerError(msg);
      case 'exit': return this.end(msg.reason, capitalise(msg.message));
      // Lab progress travels on the session channel (web/lab/session-channel.ts), not here.
      default:
        console.debug('termlab: ignoring an unknown message', msg);
    }
  }

  private onServerReady(msg: ReadyMessage): void {
    this.readyMessage = msg;
    this.isReady = true;
    this.hasConnectedOnce = true;
    this.socket.accepted();
    if (!this.hasStream) {
      // No snapshot or output came before ready: the stream starts where the server says.
      this.hasStream = true;
      this.written = this.processed = msg.offset;
    }
    this.noticeTimer.clear();
    this.setStatus({ state: 'connected', attempt: 0, sessionGone: false });
    this.sendResizeIfChanged();
    this.maybeAck();
    this.readyEmitter.fire(msg);
  }

  private onServerError(msg: ErrorMessage): void {
    if (msg.fatal) {
      this.end(msg.code, END_TEXT[msg.code] ?? capitalise(msg.message));
      return;
    }
    console.warn(`termlab: server error ${msg.code}: ${msg.message}`);
    this.setStatus({ ...this.currentStatus, message: capitalise(msg.message) });
    this.noticeTimer.value = disposableTimeout(() => {
      this.noticeTimer.clear();
      if (this.currentStatus.state === 'connected') this.setStatus({ ...this.currentStatus, message: undefined });
    }, NOTICE_MS);
  }

  private onBinary(bytes: Uint8Array): void {
    let frame;
    try {
      frame = decodeBinaryFrame(bytes);
    } catch (err) {
      console.warn('termlab: ignoring a binary frame:', (err as Error).message);
      return;
    }
    if (frame.kind === FRAME_SNAPSHOT) this.onSnapshot(frame.offset, frame.payload);
    else this.onOutput(frame.offset, frame.payload);
  }

  private onSnapshot(offset: number, screen: Uint8Array): void {
    this.startEpoch(offset);
    this.hasStream = true;
    this.resetTerminal();
    this.writeOutput(screen, offset);
  }

  private onOutput(offset: number, bytes: Uint8Array): void {
    if (!this.hasStream) {
      this.hasStream = true;
      this.written = this.processed = offset;
    }
    const end = offset + bytes.byteLength;
    if (end <= this.written) return; // already shown
    if (offset > this.written) {
      // Bytes between are missing: the screen would be wrong. Start over from a snapshot.
      console.warn(`termlab: output gap (have ${this.written}, got ${offset}); reloading the screen`);
      this.startEpoch(0);
      this.hasStream = false;
      this.resetTerminal();
      this.scheduleReconnect('Output arrived out of order; reloading the screen');
      return;
    }
    const fresh = offset === this.written ? bytes : bytes.subarray(this.written - offset);
    this.written = end;
    this.writeOutput(fresh, end);
  }

  private startEpoch(offset: number): void {
    this.epoch++;
    this.writing = false;
    this.waiting = [];
    this.written = this.processed = offset;
  }

  /** Resets the terminal in order with writes already queued (term.reset() alone would run before them). */
  private resetTerminal(): void {
    this.term.write('', () => this.term.reset());
  }

  /**
   * Hands output to xterm.js. While it is still parsing the last write, what arrives waits here and
   * goes as one write when that one is parsed: each write costs xterm.js its own parse pass, scroll
   * events and callback, so a flood costs the page less in few large writes than in many small ones
   * (and an echo, arriving when xterm.js is idle, is written at once).
   */
  private writeOutput(data: Uint8Array, endOffset: number): void {
    if (this.writing) {
      this.waiting.push(data);
      return;
    }
    const epoch = this.epoch;
    this.writing = true;
    this.term.write(data, () => {
      if (epoch !== this.epoch || this.isDisposed) return;
      this.processed = Math.max(this.processed, endOffset);
      if (this.waiting.length > 0) this.handOverChannel.port2.postMessage(epoch);
      else this.writing = false;
      this.maybeAck();
    });
  }

  /**
   * What waited goes to xterm.js once its last write is parsed, in a task of its own rather than
   * from the write's callback: there it would join xterm.js's running parse loop, which yields to
   * the page every 12 ms by a timer set from a timer, and a flood that keeps it busy for more than
   * five of those is slowed by Chromium's 4 ms floor for nested timers. Started from this task, each
   * write's loop counts its timers afresh. (The bench's run-to-run spread hid what it gained.) A
   * hand-over asked for before a reset (`epoch`) is dropped: the new stream's own write asks again.
   */
  private handOver(epoch: number): void {
    if (epoch !== this.epoch || !this.writing || this.waiting.length === 0 || this.isDisposed) return;
    const parts = this.waiting;
    this.waiting = [];
    this.writing = false;
    this.writeOutput(this.skipUnseen(parts.length === 1 ? parts[0]! : joinBytes(parts)), this.written);
  }

  /**
   * What queued while xterm.js parsed, less the plain lines that would scroll out of the
   * scrollback unseen (protocol/fast-forward.ts): the same screen and scrollback, without parsing
   * and drawing them. A `yes` flood then costs the tab little, and the output after a Ctrl-C is
   * not kept waiting behind it. Called only with nothing in xterm.js's hands, so its state is the
   * state after everything written before.
   */
  private skipUnseen(data: Uint8Array): Uint8Array {
    return fastForward(data, skipState(this.term as never), this.term.options.scrollback ?? 1000).write;
  }

  private setStatus(status: ConnectionStatus): void {
    const now = this.currentStatus;
    if (now.state === status.state && now.attempt === status.attempt && now.reason === status.reason
        && now.message === status.message && now.sessionGone === status.sessionGone) return;
    this.currentStatus = status;
    this.statusEmitter.fire(status);
  }
}

function capitalise(text: string): string {
  return text ? text[0]!.toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? '' : '.') : text;
}
