// One WebSocket client speaking the terminal protocol: hello first, then input, resize, ack, ping.
// Every bad frame gets a clear error on this socket only; nothing a client sends can reach another
// session, because the only way to a session is its token.
import type { WebSocket, RawData } from 'ws';
import {
  CLOSE, FRAME_OUTPUT, FRAME_SNAPSHOT, HEARTBEAT_MS, closeCodeFor, encodeBinaryFrame, errorMessage,
  type ClientMessage, type ErrorCode, type ExitReason, type ServerMessage,
} from '../../protocol/messages.js';
import { parseClientMessage } from '../../protocol/validate.js';
import type { Logger } from '../log.js';
import type { Session } from '../sessions/session.js';
import type { SessionManager } from '../sessions/session-manager.js';
import type { TerminalClient, TerminalStream } from '../sessions/terminal-stream.js';

const EXIT_TEXT: Record<ExitReason, string> = {
  'ended': 'the lab was ended',
  'idle-timeout': 'the session was idle for too long and its box was removed',
  'max-lifetime': 'the session reached its maximum lifetime and its box was removed',
  'shell-exited': 'the shell exited',
  'replaced': 'this terminal was opened in another window',
  'server-stopping': 'the server is shutting down',
  'box-failed': 'the sandbox stopped working (out of memory or disk?) and was removed',
};

/** Messages per second a client may send before being told to slow down (a paste comes in pieces). */
const RATE_PER_SECOND = 2000;

export class ClientConnection implements TerminalClient {
  private session: Session | undefined;
  private stream: TerminalStream | undefined;
  private unsubscribe: (() => void) | undefined;
  private closed = false;
  private lastHeard = Date.now();
  private readonly heartbeat: NodeJS.Timeout;
  private windowStart = Date.now();
  private windowCount = 0;
  private lastDropNotice = 0;

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

  sendOutput(offset: number, bytes: Uint8Array): void {
    this.sendBinary(encodeBinaryFrame(FRAME_OUTPUT, offset, bytes));
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

  private async onMessage(data: RawData, isBinary: boolean): Promise<void> {
    this.lastHeard = Date.now();
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

  private async handle(msg: ClientMessage): Promise<void> {
    if (msg.type === 'ping') {
      this.session?.touch();
      return this.send({ type: 'pong', id: msg.id });
    }
    if (msg.type === 'hello') return this.hello(msg);
    const { session, stream } = this;
    if (!session || !stream) return this.fail('hello-first');
    session.touch();
    switch (msg.type) {
      case 'input':
        if (!stream.write(msg.data)) this.inputDropped(stream);
        return;
      case 'resize': return stream.requestResize(msg.cols, msg.rows);
      case 'ack':
        if (!stream.ack(this, msg.offset)) this.fail('bad-ack', `ack ${msg.offset} is beyond the ${stream.endOffset} bytes sent`);
        return;
    }
  }

  private async hello(msg: Extract<ClientMessage, { type: 'hello' }>): Promise<void> {
    if (this.session) return this.fail('hello-twice');
    const session = this.sessions.byToken(msg.token);
    if (!session || session.endReason) return this.fail('bad-token', 'no live session has this token: it ended or never existed; start the lab again');
    if (!session.hasTerminal(msg.terminal)) return this.fail('no-terminal', `the session has no terminal "${msg.terminal}"`);
    this.session = session;
    clearTimeout(this.helloTimer);
    session.attachedClients++;
    session.touch();
    const stream = session.terminal(msg.terminal, { cols: msg.cols, rows: msg.rows });
    const offEnd = session.onEnd((reason) => this.exit(reason));
    const offLab = session.runner.onChange((progress) => this.send({ type: 'lab', progress }));
    const offNotice = session.onNotice((code, message) => this.fail(code, message));
    this.unsubscribe = () => { offEnd(); offLab(); offNotice(); };
    const replaced = await stream.attach(this, { cols: msg.cols, rows: msg.rows }, msg.resumeFrom);
    if (replaced instanceof ClientConnection) replaced.exit('replaced');
    if (this.closed) return stream.detach(this);
    this.stream = stream;
    this.send({
      type: 'ready', session: session.id, terminal: msg.terminal, offset: stream.endOffset,
      cols: stream.size.cols, rows: stream.size.rows, expiresAt: session.expiresAt, idleTimeoutMs: session.idleTimeoutMs,
    });
    this.send({ type: 'lab', progress: session.runner.progress() });
  }

  /** Tells the learner their input was dropped, at most every few seconds (a flood drops a lot). */
  private inputDropped(stream: TerminalStream): void {
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

  private fail(code: ErrorCode, detail?: string): void {
    const msg = errorMessage(code, detail);
    this.send(msg);
    if (msg.fatal) this.close(closeCodeFor(code), code);
  }

  private send(msg: ServerMessage): void {
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
    this.unsubscribe?.();
    this.stream?.detach(this);
    if (this.session) {
      this.session.attachedClients--;
      this.session.touch();
    }
  }
}
