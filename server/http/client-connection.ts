// One WebSocket client speaking the terminal protocol: hello first, then input, resize, ack, ping.
// The hello's channel decides what the socket is: a learner's terminal (handled here), the session
// channel (session-channel.ts) or a read-only view (terminal-viewer.ts). Every bad frame gets a
// clear error on this socket only; nothing a client sends can reach another session, because the
// only way to a session is its token (or a view ticket that a workshop role obtained).
import type { WebSocket, RawData } from 'ws';
import {
  CLOSE, FRAME_OUTPUT, FRAME_SNAPSHOT, HEARTBEAT_MS, closeCodeFor, encodeBinaryFrame, errorMessage, writeFrameHeader,
  type ErrorCode, type ExitReason, type ServerMessage,
} from '../../protocol/messages.js';
import type { SessionChannelMessage } from '../../protocol/api.js';
import { parseClientMessage, type ParsedClientMessage, type SessionHello, type TerminalHello, type ViewHello } from '../../protocol/validate.js';
import type { Logger } from '../log.js';
import type { Session } from '../sessions/session.js';
import { SessionChannel } from '../sessions/session-channel.js';
import { SessionError, type SessionManager } from '../sessions/session-manager.js';
import type { TerminalClient, TerminalStream } from '../sessions/terminal-stream.js';
import { TerminalViewer, type ViewerSocket } from '../sessions/terminal-viewer.js';
import { relayView, type ViewRelay } from './view-relay.js';

const EXIT_TEXT: Record<ExitReason, string> = {
  'ended': 'the lab was ended',
  'idle-timeout': 'the session was idle for too long and its box was removed',
  'max-lifetime': 'the session reached its maximum lifetime and its box was removed',
  'shell-exited': 'the shell exited',
  'replaced': 'this terminal was opened in another window',
  'server-stopping': 'the server is shutting down',
  'box-failed': 'the sandbox stopped working (out of memory or disk?) and was removed',
};

/** Input a paused socket may still deliver beyond the budget (ws emits what it already read). */
const INPUT_WAITING_MAX = 512 * 1024;

/** Messages per second a client may send before being told to slow down (a paste comes in pieces). */
const RATE_PER_SECOND = 2000;

export class ClientConnection implements TerminalClient, ViewerSocket {
  private session: Session | undefined;
  /** Set by hello: a terminal socket has a stream, a session socket a channel, a view socket a viewer. */
  private stream: TerminalStream | undefined;
  private channel: SessionChannel | undefined;
  private viewer: TerminalViewer | undefined;
  /** A learner's socket (terminal or session channel) keeps the session from idling out; a view does not. */
  private countsAsAttached = false;
  private unsubscribe: (() => void) | undefined;
  private closed = false;
  private lastHeard = Date.now();
  private readonly heartbeat: NodeJS.Timeout;
  private windowStart = Date.now();
  private windowCount = 0;
  private lastDropNotice = 0;
  /** Input the terminal's budget could not take yet, oldest first (see input()). */
  private readonly waitingInput: string[] = [];
  private waitingBytes = 0;

  /** A view of a terminal another replica serves: every frame goes there (view-relay.ts). */
  private relay: ViewRelay | undefined;

  /** Pings keep a socket alive, so without this one could sit here forever holding a socket slot. */
  private readonly helloTimer: NodeJS.Timeout;

  constructor(private readonly ws: WebSocket, private readonly sessions: SessionManager, private readonly log: Logger, helloTimeoutMs: number) {
    this.helloTimer = setTimeout(() => {
      if (!this.session) this.fail('hello-timeout', `no hello within ${helloTimeoutMs / 1000} s of opening the socket: send hello (with the session token) first`);
    }, helloTimeoutMs);
    this.helloTimer.unref();
    ws.on('message', (data, isBinary) => void this.onMessage(data, isBinary));
    ws.on('close', () => this.cleanup());
    ws.on('error', (err) => this.log.debug({ err }, 'websocket error'));
    this.heartbeat = setInterval(() => {
      if (Date.now() - this.lastHeard > 3 * HEARTBEAT_MS) this.close(CLOSE.heartbeatTimeout, 'no heartbeat');
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  sendOutput(offset: number, bytes: Uint8Array, frame?: Uint8Array): void {
    this.sendBinary(frame ? writeFrameHeader(frame, FRAME_OUTPUT, offset) : encodeBinaryFrame(FRAME_OUTPUT, offset, bytes));
  }

  sendSnapshot(offset: number, screen: string): void {
    this.sendBinary(encodeBinaryFrame(FRAME_SNAPSHOT, offset, Buffer.from(screen, 'utf8')));
  }

  /** Ends this connection because its session ended or another window took the terminal over. */
  exit(reason: ExitReason): void {
    this.send({ type: 'exit', reason, message: EXIT_TEXT[reason] });
    const code = reason === 'replaced' ? CLOSE.replaced : reason === 'server-stopping' ? CLOSE.serverStopping : CLOSE.sessionEnded;
    this.close(code, reason);
  }

  /** This server stops and another replica carries the session on: the page reconnects (and lands there). */
  moveOn(): void {
    this.close(CLOSE.moving, 'server-moving');
  }

  private async onMessage(data: RawData, isBinary: boolean): Promise<void> {
    this.lastHeard = Date.now();
    if (this.relay) {
      if (!this.limited()) this.relay.forward(data, isBinary);
      return;
    }
    if (isBinary) {
      if (!this.limited()) this.fail('binary-not-accepted');
      return;
    }
    const parsed = parseClientMessage(data.toString());
    if (!parsed.ok) {
      if (!this.limited()) this.fail(parsed.code, parsed.message);
      return;
    }
    // Acks are never dropped: a lost ack would leave the shell paused for good. They cost nothing.
    if (parsed.message.type !== 'ack' && this.limited()) return;
    try {
      await this.handle(parsed.message);
    } catch (err) {
      this.log.error({ err }, 'handling a client message failed');
      this.fail('internal');
    }
  }

  private async handle(msg: ParsedClientMessage): Promise<void> {
    if (msg.type === 'ping') {
      if (this.countsAsAttached) this.session?.touch();
      return this.send({ type: 'pong', id: msg.id });
    }
    if (msg.type === 'hello') return this.hello(msg);
    if (this.viewer) return this.viewInput(msg);
    if (this.channel) return this.fail('wrong-channel', `${msg.type} has no meaning on the session channel: it carries no terminal`);
    const { session, stream } = this;
    if (!session || !stream) return this.fail('hello-first');
    session.touch();
    switch (msg.type) {
      case 'input': return this.input(stream, msg.data);
      case 'resize': return stream.requestResize(msg.cols, msg.rows);
      case 'ack':
        if (!stream.ack(this, msg.offset)) this.fail('bad-ack', `ack ${msg.offset} is beyond the ${stream.endOffset} bytes sent`);
        return;
    }
  }

  private async hello(msg: TerminalHello | SessionHello | ViewHello): Promise<void> {
    if (this.session) return this.fail('hello-twice');
    if (msg.channel === 'view') return this.helloView(msg);
    let session: Session | undefined;
    try {
      session = await this.sessions.find(msg.token);
    } catch (err) {
      // Busy looking up other replicas' sessions: the page's reconnect comes back in a moment.
      if (err instanceof SessionError) return this.moveOn();
      throw err;
    }
    if (this.closed) return;
    if (!session || session.endReason) return this.fail('bad-token', 'no live session has this token: it ended or never existed; start the lab again');
    if (msg.channel === 'terminal' && !session.hasTerminal(msg.terminal)) return this.fail('no-terminal', `the session has no terminal "${msg.terminal}"`);
    this.session = session;
    clearTimeout(this.helloTimer);
    this.countsAsAttached = true;
    session.attachedClients++;
    session.touch();
    if (msg.channel === 'session') {
      this.channel = new SessionChannel(session, this);
      return;
    }
    const stream = session.terminal(msg.terminal, { cols: msg.cols, rows: msg.rows }, msg.resumeFrom);
    // Session notices (disk nearly full...) go on the session channel only: one place for the page.
    this.unsubscribe = session.onEnd((reason) => this.exit(reason));
    const replaced = await stream.attach(this, { cols: msg.cols, rows: msg.rows }, msg.resumeFrom);
    if (replaced instanceof ClientConnection) replaced.exit('replaced');
    if (this.closed) return stream.detach(this);
    this.stream = stream;
    // No `lab` here: progress goes on the session channel only (one source of truth for the page).
    this.send({
      type: 'ready', session: session.id, terminal: msg.terminal, offset: stream.endOffset,
      cols: stream.size.cols, rows: stream.size.rows, expiresAt: session.expiresAt, idleTimeoutMs: session.idleTimeoutMs,
    });
  }

  /** A view: the token is a single-use ticket naming a seated learner's session and the viewer's role. */
  private async helloView(msg: ViewHello): Promise<void> {
    // A ticket for a session another replica serves is redeemed there: this one relays the view.
    const wanted = this.sessions.viewTickets.peek(msg.token);
    const elsewhere = wanted && await this.sessions.servedElsewhere(wanted.session).catch(() => undefined);
    if (elsewhere && !this.closed) {
      clearTimeout(this.helloTimer);
      this.log.info({ session: wanted.session, workshop: wanted.workshop, role: wanted.role, terminal: msg.terminal, to: elsewhere }, 'view relayed to the replica serving the session');
      this.relay = relayView(this.ws, elsewhere, JSON.stringify(msg), () => this.cleanup());
      return;
    }
    const grant = this.sessions.viewTickets.redeem(msg.token);
    if (!grant) return this.fail('bad-token', 'this view ticket was already used or has expired (a ticket opens one view, within a minute): ask for a new one');
    const session = this.sessions.byId(grant.session);
    // The seat may have been reset or the session ended since the ticket was issued.
    if (!session || session.endReason || session.workshop !== grant.workshop) {
      return this.fail('bad-token', 'the learner\'s session has ended or is no longer in this workshop');
    }
    if (!session.hasTerminal(msg.terminal)) return this.fail('no-terminal', `the session has no terminal "${msg.terminal}"`);
    this.session = session;
    clearTimeout(this.helloTimer);
    // Looking at someone's terminal is worth a line in the log (who, whose, from which workshop).
    this.log.info({ session: session.id, workshop: grant.workshop, role: grant.role, terminal: msg.terminal }, 'view opened');
    // Set before the snapshot is sent, so what the view sends meanwhile is handled as a view's.
    this.viewer = new TerminalViewer(session, msg.terminal, grant.role, this);
    await this.viewer.start();
  }

  /** What a view may send besides ping: input (refused unless handed control), resizes and acks (ignored). */
  private viewInput(msg: Exclude<ParsedClientMessage, { type: 'hello' | 'ping' }>): void {
    // A view never resizes the learner's terminal (its page scales), and acks from its page's
    // terminal code are accepted and ignored: a view takes no part in flow control.
    if (msg.type !== 'input') return;
    if (!this.viewer!.input(msg.data)) this.inputDropped(this.viewer!);
  }

  /**
   * Input past the terminal's budget waits here, and the socket is not read until the budget has
   * taken it: reading on would only parse frames to drop them (a script sending megabytes a second
   * would cost the event loop everyone shares) and would cut a long paste short. Unread, the rest
   * waits in the sender's socket; a paste goes in whole, at the budget's pace. What waits here is
   * what the socket had already read when it was paused: a read or two, bounded by INPUT_WAITING_MAX.
   */
  private input(stream: TerminalStream, data: string): void {
    if (this.waitingInput.length === 0) {
      const r = stream.offer(data);
      if (r === 'taken') return;
      if (r === 'dropped') return this.inputDropped(stream);
    }
    if (this.waitingBytes + data.length > INPUT_WAITING_MAX) return this.inputDropped(stream);
    this.waitingInput.push(data);
    this.waitingBytes += data.length;
    if (this.waitingInput.length === 1) {
      this.ws.pause();
      this.feedLater(stream);
    }
  }

  /** Hands waiting input to the stream as its budget allows, then reads the socket again. */
  private feedLater(stream: TerminalStream): void {
    const head = this.waitingInput[0];
    if (!head || this.closed) return;
    setTimeout(() => {
      if (this.closed) return;
      while (this.waitingInput.length) {
        const r = stream.offer(this.waitingInput[0]!);
        if (r === 'later') return this.feedLater(stream);
        this.waitingBytes -= this.waitingInput.shift()!.length;
        if (r === 'dropped') this.inputDropped(stream);
      }
      // Pings and acks waited in the socket too; they are read now.
      this.lastHeard = Date.now();
      this.ws.resume();
    }, Math.max(1, stream.inputWaitMs(head.length))).unref();
  }

  /** Tells the learner their input was dropped, at most every few seconds (a flood drops a lot). */
  private inputDropped(stream: Pick<TerminalStream, 'inputHighWater' | 'inputDropped'>): void {
    const now = Date.now();
    if (now - this.lastDropNotice < 3000) return;
    this.lastDropNotice = now;
    this.fail('input-dropped', `input dropped: more than this terminal takes at once (${Math.round(stream.inputHighWater / 1024)} KiB, ` +
      `then 64 KiB a second), or the shell is not reading it (${stream.inputDropped} characters dropped so far); ` +
      'if a command is running, press Ctrl-C or wait for it to finish');
  }

  /** True (after telling the client) when it sends more than the rate allows; the message is dropped. */
  private limited(): boolean {
    if (this.withinRate()) return false;
    if (this.windowCount === RATE_PER_SECOND + 1) this.fail('rate-limited', `more than ${RATE_PER_SECOND} messages a second; slow down`);
    return true;
  }

  private withinRate(): boolean {
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.windowCount = 0;
    }
    return ++this.windowCount <= RATE_PER_SECOND;
  }

  fail(code: ErrorCode, detail?: string): void {
    const msg = errorMessage(code, detail);
    if (code === 'too-slow') this.log.info({ session: this.session?.id, queued: this.queuedBytes }, 'slow view dropped');
    this.send(msg);
    if (msg.fatal) this.close(closeCodeFor(code), code);
  }

  /** Bytes handed to this socket and not yet to the network (a view's queue bound reads it). */
  get queuedBytes(): number { return this.ws.bufferedAmount; }

  /** A session channel also sends live reload's `lab-changed` (protocol/api.ts). */
  send(msg: SessionChannelMessage): void {
    if (!this.closed && this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private sendBinary(frame: Uint8Array): void {
    if (!this.closed && this.ws.readyState === this.ws.OPEN) this.ws.send(frame, { binary: true });
  }

  private close(code: number, reason: string): void {
    if (this.closed) return;
    this.ws.close(code, reason);
    this.cleanup();
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.helloTimer);
    this.relay?.close();
    this.unsubscribe?.();
    this.stream?.detach(this);
    this.channel?.dispose();
    this.viewer?.stop();
    if (this.session && this.countsAsAttached) {
      this.session.attachedClients--;
      this.session.touch();
    }
  }
}
