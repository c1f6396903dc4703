// A Node client of the terminal protocol (tests and the benchmark): hello, input, acks, and the
// output reassembled by offset.
import WebSocket from 'ws';
import { WS_PATH } from '../../protocol/api.js';
import {

  FRAME_SNAPSHOT, HEARTBEAT_MS, PROTOCOL_VERSION, decodeBinaryFrame, type ClientMessage, type ServerMessage,
} from '../../protocol/messages.js';

/** What the box's bash prints before each prompt (images/shell/bashrc). */
export const PROMPT_MARKER = '\x1b]6973;prompt;';

/** The id of the client's own heartbeat pings (a test's pings use others). */
const HEARTBEAT_PING_ID = 2 ** 52;

export class ProtocolClient {
  readonly messages: ServerMessage[] = [];
  /** Output bytes in order (after the last snapshot, if any). */
  output = Buffer.alloc(0);
  snapshot: string | undefined;
  offset = 0;
  closeCode: number | undefined;
  closeReason = '';
  private waiters: Array<() => void> = [];
  autoAck = true;
  /** Keep only this many of the newest output bytes (a benchmark's flood would grow `output` forever). */
  keepBytes = Infinity;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) {
        const frame = decodeBinaryFrame(new Uint8Array(data));
        if (frame.kind === FRAME_SNAPSHOT) {
          this.snapshot = Buffer.from(frame.payload).toString();
          this.output = Buffer.alloc(0);
          this.offset = frame.offset;
        } else {
          const skip = Math.max(0, this.offset - frame.offset);
          if (frame.offset > this.offset) throw new Error(`gap in output: got ${frame.offset}, have ${this.offset}`);
          const fresh = Buffer.from(frame.payload).subarray(skip);
          this.output = Buffer.concat([this.output, fresh]);
          if (this.output.length > this.keepBytes) this.output = this.output.subarray(this.output.length - this.keepBytes);
          this.offset += fresh.length;
          if (this.autoAck) this.send({ type: 'ack', offset: this.offset });
        }
      } else {
        const msg = JSON.parse(data.toString()) as ServerMessage;
        if (msg.type === 'pong' && msg.id === HEARTBEAT_PING_ID) return;
        this.messages.push(msg);
      }
      this.waiters.splice(0).forEach((f) => f());
    });
    // Pings as the page does, so a socket quiet for a while (a session channel, a terminal waiting
    // while fifty others start) is not closed for a missing heartbeat. Their pongs are not kept.
    const heartbeat = setInterval(() => {
      if (ws.readyState === WebSocket.OPEN) this.send({ type: 'ping', id: HEARTBEAT_PING_ID });
    }, HEARTBEAT_MS);
    heartbeat.unref();
    ws.on('close', (code, reason) => {
      clearInterval(heartbeat);
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.waiters.splice(0).forEach((f) => f());
    });
  }

  static async connect(baseUrl: string, headers: Record<string, string> = {}): Promise<ProtocolClient> {
    const ws = new WebSocket(baseUrl.replace(/^http/, 'ws') + WS_PATH, { headers });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    return new ProtocolClient(ws);
  }

  /** Connects and says hello; resolves on ready. */
  static async open(baseUrl: string, token: string, opts: { cols?: number; rows?: number; resumeFrom?: number; headers?: Record<string, string> } = {}): Promise<ProtocolClient> {
    const client = await ProtocolClient.connect(baseUrl, opts.headers);
    client.offset = opts.resumeFrom ?? 0;
    client.send({ type: 'hello', v: PROTOCOL_VERSION, token, terminal: 'main', cols: opts.cols ?? 80, rows: opts.rows ?? 24, resumeFrom: opts.resumeFrom });
    await client.waitFor('ready', () => client.messages.some((m) => m.type === 'ready'));
    return client;
  }

  /** Opens the session channel (progress, notices, the session's end); resolves on session-ready. */
  static async openSession(baseUrl: string, token: string, headers: Record<string, string> = {}): Promise<ProtocolClient> {
    const client = await ProtocolClient.connect(baseUrl, headers);
    client.send({ type: 'hello', v: PROTOCOL_VERSION, token, channel: 'session' });
    await client.waitFor('session-ready', () => client.messages.some((m) => m.type === 'session-ready'));
    return client;
  }

  /** Opens a read-only view with a view ticket; resolves on ready (after the snapshot). */
  static async openView(baseUrl: string, ticket: string, opts: { cols?: number; rows?: number; terminal?: string } = {}): Promise<ProtocolClient> {
    const client = await ProtocolClient.connect(baseUrl);
    client.send({ type: 'hello', v: PROTOCOL_VERSION, token: ticket, channel: 'view', terminal: opts.terminal ?? 'main', cols: opts.cols ?? 80, rows: opts.rows ?? 24 });
    await client.waitFor('ready', () => client.messages.some((m) => m.type === 'ready'));
    return client;
  }

  /** Messages of one type, in order. */
  of<T extends ServerMessage['type']>(type: T): Array<Extract<ServerMessage, { type: T }>> {
    return this.messages.filter((m): m is Extract<ServerMessage, { type: T }> => m.type === type);
  }

  get text(): string { return this.output.toString(); }

  send(msg: ClientMessage | Record<string, unknown>): void { this.ws.send(JSON.stringify(msg)); }
  sendRaw(data: string | Buffer, binary = false): void { this.ws.send(data, { binary }); }
  type(data: string): void { this.send({ type: 'input', data }); }

  errors(): Array<Extract<ServerMessage, { type: 'error' }>> {
    return this.messages.filter((m): m is Extract<ServerMessage, { type: 'error' }> => m.type === 'error');
  }

  /** Resolves when `cond` holds, checked after every frame; rejects after `ms`. */
  waitFor(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; output so far: ${JSON.stringify(this.text.slice(-400))}`)), ms);
      const check = () => {
        if (cond()) { clearTimeout(timer); resolve(); } else if (this.closeCode !== undefined) {
          clearTimeout(timer); reject(new Error(`socket closed (${this.closeCode} ${this.closeReason}) waiting for ${what}`));
        } else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  waitForText(pattern: RegExp | string, ms?: number): Promise<void> {
    const test = typeof pattern === 'string' ? (s: string) => s.includes(pattern) : (s: string) => pattern.test(s);
    return this.waitFor(`output ${pattern}`, () => test(this.text), ms);
  }

  waitForClose(ms = 10_000): Promise<void> {
    return this.waitFor('close', () => this.closeCode !== undefined, ms).catch((err) => {
      if (this.closeCode === undefined) throw err;
    });
  }

  close(): void { this.ws.close(); }

  /** Prompts the shell has printed so far (images/shell/bashrc marks each one). */
  prompts(): number { return this.text.split(PROMPT_MARKER).length - 1; }

  /** Steps green on a session channel, from its latest lab message. */
  stepsDone(): number {
    const lab = [...this.messages].reverse().find((m) => m.type === 'lab') as { progress?: { steps: string[] } } | undefined;
    return lab?.progress?.steps.filter((s) => s === 'done').length ?? 0;
  }
}
