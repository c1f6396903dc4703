// One shell in a box, seen through a pty: sequenced output, replay on reconnect, and flow control.
// The shell is read only as fast as the slower of the attached client and the screen mirror, so a
// `yes` flood neither grows server memory nor floods the browser.
import { ACK_EVERY_BYTES, BINARY_HEADER_BYTES, FLOW_HIGH_WATER, FLOW_LOW_WATER } from '../../protocol/messages.js';
import { InterruptFlush } from './interrupt-flush.js';
import { OutputLog } from './output-log.js';
import { INPUT_BYTES_PER_SECOND, INPUT_HIGH_WATER } from '../sandbox/pty-input.js';
import { SHELL_TAKEN, type BoxShell } from '../sandbox/sandbox-driver.js';
import { ScreenMirror } from './screen-mirror.js';
import { TokenBucket } from './token-bucket.js';
import { forgetTyping, noteTyping, othersTyping } from './typing.js';

/** Where a terminal's output goes: the one WebSocket client attached to it. */
export interface TerminalClient {
  /**
   * `frame`, when given, is BINARY_HEADER_BYTES of room followed by `bytes` (the same memory): the
   * client may write a frame's header there and send it whole, without copying `bytes` again.
   */
  sendOutput(offset: number, bytes: Uint8Array, frame?: Uint8Array): void;
  sendSnapshot(offset: number, screen: string): void;
}

export interface TerminalStreamOptions {
  /** Opens the shell (again, when it exited and `respawn` is set) at the terminal's size: the sandbox layer's openShell. */
  shell: (size: { cols: number; rows: number }) => BoxShell;
  cols: number;
  rows: number;
  /** Bytes of output kept for replay. */
  logBytes?: number;
  scrollback?: number;
  /** Input queued for the shell beyond this many bytes is dropped (default INPUT_HIGH_WATER). */
  inputHighWater?: number;
  /** Input accepted per second, sustained (default INPUT_BYTES_PER_SECOND); bursts up to inputHighWater. */
  inputBytesPerSecond?: number;
  /** At most one client resize per this many ms (default RESIZE_EVERY_MS; 0 applies each one). */
  resizeEveryMs?: number;
  /** Start a new shell when the old one exits (the learner typed `exit`), unless it keeps dying at once. */
  respawn?: boolean;
  /**
   * The first output's offset: where the page's screen stopped, for a shell this server adopted
   * from another (session-records.ts). The page resumes from it and keeps what it shows.
   */
  startOffset?: number;
}

/** Output per second a terminal gets while other terminals are being typed into (see throttle()). */
export const CONTENDED_OUTPUT_BYTES_PER_S = 256 * 1024;

/** Output frames to the client carry at most this much (reads joined, see sendPending). */
const SEND_FRAME_BYTES = 256 * 1024;
/** Output following a send this soon is gathered until then (ms). */
const COALESCE_MS = 4;
/**
 * Output kept for replay (a reconnect resumes from it; a snapshot is followed by it). The screen
 * mirror may lag half of it: at 2 MiB, a mirror behind a flood (its thread yields to everyone
 * else's work) has pieces large enough to skip most of (protocol/fast-forward.ts keeps the 5000
 * lines of scrollback, about 500 KiB of long lines), instead of pausing the shell until it has
 * parsed every line. Memory is taken only as output fills it.
 */
const LOG_BYTES = 2 * 1024 * 1024;
/** After Ctrl-C, skipping ends once the shell's output has been quiet this long (ms). */
const SKIP_QUIET_MS = 50;
/** The window over which the shell's recent output rate is counted (ms). */
const RECENT_MS = 200;

/** At most one client resize is applied per this many ms (the latest wins). */
export const RESIZE_EVERY_MS = 50;

export type OutputListener = (offset: number, bytes: Uint8Array) => void;

/** What the box's bash prints before each prompt (images/shell/bashrc): OSC 6973, ignored by terminals. */
export const PROMPT_MARKER = Buffer.from('\x1b]6973;prompt;');

export class TerminalStream {
  private proc: BoxShell;
  private spawnedAt = 0;
  private droppedInput = 0;
  private throttled = false;
  private readonly flush = new InterruptFlush(PROMPT_MARKER);
  private skipQuiet: NodeJS.Timeout | undefined;
  private readonly contendedOutput = new TokenBucket(CONTENDED_OUTPUT_BYTES_PER_S, CONTENDED_OUTPUT_BYTES_PER_S / 4);
  /** Input per second: a paste fits in the burst, a script typing megabytes a second does not. */
  private readonly inputBudget: TokenBucket;
  private wantedSize: { cols: number; rows: number } | undefined;
  private resizeTimer: NodeJS.Timeout | undefined;
  private quickExits = 0;
  private disposed = false;
  private readonly log: OutputLog;
  private readonly mirror: ScreenMirror;
  private client: TerminalClient | undefined;
  /** Offset up to which output went to the current client, and up to which it confirmed processing. */
  private sent = 0;
  private acked = 0;
  /** Output is waiting to go to the client (sendPending), and when it last went. */
  private sendTimer: { cancel(): void } | undefined;
  private lastSendAt = 0;
  private lastSendBytes = 0;
  /** A client behind the log is being sent the screen (sendPending). */
  private resyncing = false;
  /** Output taken since `recentSince` (a window of RECENT_MS): how fast the shell prints now. */
  private recentBytes = 0;
  private recentSince = 0;
  private paused = false;
  private exited = false;
  private cols: number;
  private rows: number;
  private readonly outputListeners = new Set<OutputListener>();
  private readonly exitListeners = new Set<(code: number) => void>();
  private readonly commandListeners = new Set<() => void>();
  private readonly resizeListeners = new Set<(cols: number, rows: number) => void>();
  private readonly inputListeners = new Set<(data: string) => void>();
  /** Prompts seen from the current shell; its first one follows no command. */
  private prompts = 0;
  /** The end of the previous chunk, so a marker split across two chunks is still seen. */
  private markerTail = Buffer.alloc(0);

  constructor(private readonly opts: TerminalStreamOptions) {
    this.cols = opts.cols;
    this.rows = opts.rows;
    this.log = new OutputLog(opts.logBytes ?? LOG_BYTES);
    this.inputBudget = new TokenBucket(opts.inputBytesPerSecond ?? INPUT_BYTES_PER_SECOND, opts.inputHighWater ?? INPUT_HIGH_WATER);
    this.mirror = new ScreenMirror(opts.cols, opts.rows, opts.scrollback ?? 5000, () => { if (!this.disposed) this.updateFlow(); });
    if (opts.startOffset) {
      this.log.continueFrom(opts.startOffset);
      this.mirror.continueFrom(opts.startOffset);
      this.sent = this.acked = opts.startOffset;
    }
    this.proc = this.spawn();
    // The mirror may lag behind the page by up to half the log (its snapshot must stay in the
    // log): its thread runs at a low priority, so on a busy machine a flood's parsing waits
    // for the learners' pages and keystrokes rather than competing with them.
    this.addPressure(() => this.mirror.pending, this.log.capacity / 2, this.log.capacity / 4);
  }

  private spawn(): BoxShell {
    const proc = this.opts.shell({ cols: this.cols, rows: this.rows });
    this.spawnedAt = Date.now();
    this.prompts = 0;
    proc.onData((data) => { if (this.proc === proc) this.onData(data); });
    proc.onExit((exitCode) => { if (this.proc === proc) this.onProcExit(exitCode); });
    return proc;
  }

  private onProcExit(exitCode: number): void {
    if (this.disposed) return;
    this.quickExits = Date.now() - this.spawnedAt < 2000 ? this.quickExits + 1 : 0;
    if (this.opts.respawn && this.quickExits < 3 && exitCode !== SHELL_TAKEN) {
      this.onData(Buffer.from(`\r\n\x1b[2m[shell exited with status ${exitCode}; starting a new one]\x1b[0m\r\n`));
      this.paused = false;
      this.proc = this.spawn();
      this.updateFlow();
      return;
    }
    this.exited = true;
    this.exitListeners.forEach((f) => f(exitCode));
  }

  get endOffset(): number { return this.log.endOffset; }
  get size(): { cols: number; rows: number } { return { cols: this.cols, rows: this.rows }; }
  get isPaused(): boolean { return this.paused; }
  get hasExited(): boolean { return this.exited; }
  /** The local process holding the shell's end, when there is one (the bench reads its memory). */
  get pid(): number | undefined { return this.proc.pid; }

  /** Every output chunk, in order, whether or not a client is attached (recordings use this). */
  onOutput(listener: OutputListener): () => void {
    this.outputListeners.add(listener);
    return () => this.outputListeners.delete(listener);
  }

  /** A command typed in this terminal finished (its shell printed the next prompt). */
  onCommandDone(listener: () => void): () => void {
    this.commandListeners.add(listener);
    return () => this.commandListeners.delete(listener);
  }

  onResize(listener: (cols: number, rows: number) => void): () => void {
    this.resizeListeners.add(listener);
    return () => this.resizeListeners.delete(listener);
  }

  /** What the client typed (recordings that opted in to input use it). */
  onInput(listener: (data: string) => void): () => void {
    this.inputListeners.add(listener);
    return () => this.inputListeners.delete(listener);
  }

  onExit(listener: (code: number) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  /** Other consumers of the output (a recording's file stream) that hold back reading the shell while they lag. */
  private readonly pressures = new Set<{ pending: () => number; high: number; low: number }>();

  /**
   * Reads the shell only while `pending()` (bytes another consumer has yet to take) is at most
   * `high`, and again once it is down to `low`, as for a lagging client. The consumer calls
   * recheckFlow() as it drains. Returns a function that removes the pressure.
   */
  addPressure(pending: () => number, high = FLOW_HIGH_WATER, low = FLOW_LOW_WATER): () => void {
    const entry = { pending, high, low };
    this.pressures.add(entry);
    this.updateFlow();
    return () => {
      this.pressures.delete(entry);
      if (!this.disposed) this.updateFlow();
    };
  }

  /** Re-evaluates flow control now: a pressure source has drained. */
  recheckFlow(): void {
    if (!this.disposed) this.updateFlow();
  }

  /**
   * Makes `client` the one receiving output. With `resumeFrom` still in the log the client gets the
   * bytes after it; otherwise it gets a snapshot of the screen, then the bytes after the snapshot.
   * Returns the previous client, which no longer receives anything.
   */
  async attach(client: TerminalClient, size: { cols: number; rows: number }, resumeFrom?: number): Promise<TerminalClient | undefined> {
    this.resize(size.cols, size.rows);
    let start: number;
    if (resumeFrom !== undefined && this.log.holds(resumeFrom)) {
      start = resumeFrom;
    } else {
      const snap = await this.screen();
      client.sendSnapshot(snap.offset, snap.data);
      start = snap.offset;
    }
    // The previous client kept its output while the snapshot was made; from here it gets none.
    // Two attaches at once each replace the one before: every replaced client is told.
    const previous = this.client;
    for (const { offset, bytes, block } of this.log.read(start, undefined, BINARY_HEADER_BYTES)) client.sendOutput(offset, bytes, block);
    this.client = client;
    this.sent = this.log.endOffset;
    this.acked = start;
    this.updateFlow();
    return previous;
  }

  /**
   * A read-only copy of the output for a viewer (terminal-viewer.ts): a snapshot of the screen, the
   * bytes after it, then every chunk as it comes. Unlike attach() the viewer takes no part in flow
   * control (a slow viewer is the viewer's problem, never the learner's) and replaces nobody.
   * Returns a function that stops the copy.
   */
  async watch(viewer: TerminalClient): Promise<() => void> {
    const snap = await this.screen();
    if (this.disposed) return () => {};
    // From here to the subscription nothing yields, so no chunk falls between the snapshot and the live copy.
    viewer.sendSnapshot(snap.offset, snap.data);
    for (const { offset, bytes } of this.log.read(snap.offset)) viewer.sendOutput(offset, bytes);
    return this.onOutput((offset, bytes) => viewer.sendOutput(offset, bytes));
  }

  /** The mirror's screen at an offset the log still holds, so the bytes after it can follow. */
  private async screen(): Promise<{ data: string; offset: number }> {
    // Flow control keeps a snapshot's offset in the log; a tiny log can still lose it to one read
    // of the shell made meanwhile, and the next snapshot then starts from where parsing is.
    for (let tries = 1; ; tries++) {
      const snap = await this.mirror.snapshot();
      if (this.log.holds(snap.offset) || tries === 5) return snap;
      await this.mirror.drained();
    }
  }

  detach(client: TerminalClient): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.updateFlow();
  }

  /** The client has processed output up to `offset`. False when it claims more than was sent. */
  ack(client: TerminalClient, offset: number): boolean {
    if (this.client !== client) return true;
    if (offset > this.sent) return false;
    if (offset > this.acked) {
      this.acked = offset;
      this.updateFlow();
    }
    return true;
  }

  /**
   * Types `data` into the shell. False when it was dropped because the shell has not taken the
   * input before it (server/sandbox/pty-input.ts): the caller tells the learner.
   */
  write(data: string): boolean {
    const r = this.offer(data);
    if (r === 'later') this.droppedInput += data.length;
    return r === 'taken';
  }

  /**
   * Like write(), but input the budget cannot take yet is handed back ('later': try again after
   * inputWaitMs) rather than dropped, so a client that can wait (its socket, see ClientConnection)
   * gets a paste in whole at the budget's pace. 'dropped' when the shell is not taking its input,
   * or the piece is larger than the whole burst.
   */
  offer(data: string): 'taken' | 'later' | 'dropped' {
    if (this.exited) return 'taken';
    if (this.proc.pendingInput > this.inputHighWater || data.length > this.inputHighWater) {
      this.droppedInput += data.length;
      return 'dropped';
    }
    if (!this.inputBudget.take(data.length)) return 'later';
    noteTyping(this);
    this.proc.write(data);
    for (const listener of this.inputListeners) listener(data);
    // Ctrl-C while the page is behind a flood: skip to the prompt (interrupt-flush.ts); only in
    // a shell that marks its prompts (the box's bash), where the prompt says where to stop.
    if (data.includes('\x03') && this.prompts > 0 && this.behind()) {
      this.flush.start();
      this.endSkipWhenQuiet();
      this.updateFlow();
    }
    return 'taken';
  }

  /** Milliseconds until the input budget takes `bytes`. */
  inputWaitMs(bytes: number): number {
    return this.inputBudget.waitMs(bytes);
  }

  /** Bytes typed that the shell has not taken yet. */
  get pendingInput(): number { return this.proc.pendingInput; }
  get inputHighWater(): number { return this.opts.inputHighWater ?? INPUT_HIGH_WATER; }
  /** Characters of input dropped so far because the shell was not reading. */
  get inputDropped(): number { return this.droppedInput; }

  /**
   * A client's resize, coalesced: each one reflows the screen mirror and reaches the engine, so a
   * page sending thousands a second gets at most one applied per RESIZE_EVERY_MS, the latest.
   */
  requestResize(cols: number, rows: number): void {
    this.wantedSize = { cols, rows };
    if (this.resizeTimer) return;
    const every = this.opts.resizeEveryMs ?? RESIZE_EVERY_MS;
    if (every <= 0) { this.resize(cols, rows); return; }
    const apply = (): void => {
      const wanted = this.wantedSize;
      this.wantedSize = undefined;
      if (!wanted || this.disposed) { this.resizeTimer = undefined; return; }
      this.resize(wanted.cols, wanted.rows);
      this.resizeTimer = setTimeout(apply, every);
    };
    apply();
  }

  /** Resizes at once (attach does, so a snapshot matches the client's size). */
  resize(cols: number, rows: number): void {
    this.wantedSize = undefined;
    if (cols === this.cols && rows === this.rows) return;
    this.cols = cols;
    this.rows = rows;
    this.mirror.resize(cols, rows);
    if (!this.exited) this.proc.resize(cols, rows);
    for (const listener of this.resizeListeners) listener(cols, rows);
  }

  dispose(): void {
    this.disposed = true;
    this.sendTimer?.cancel();
    clearTimeout(this.skipQuiet);
    forgetTyping(this);
    if (this.resizeTimer) clearTimeout(this.resizeTimer);
    this.client = undefined;
    this.outputListeners.clear();
    this.commandListeners.clear();
    this.resizeListeners.clear();
    this.inputListeners.clear();
    if (!this.exited) {
      try { this.proc.kill(); } catch { /* already gone */ }
    }
    this.mirror.dispose();
  }

  private onData(chunk: Buffer): void {
    if (this.flush.skipping) {
      const { rest, note } = this.flush.filter(chunk);
      if (note) {
        this.take(note);
        if (rest && rest.length > 0) this.take(rest);
      } else {
        this.endSkipWhenQuiet();
      }
      this.updateFlow();
      return;
    }
    this.take(chunk);
  }

  /** Skipping ends once no output came for SKIP_QUIET_MS: what the pipeline held is through. */
  private endSkipWhenQuiet(): void {
    clearTimeout(this.skipQuiet);
    this.skipQuiet = setTimeout(() => {
      const note = this.flush.stop();
      if (note && !this.disposed) {
        this.take(note);
        this.updateFlow();
      }
    }, SKIP_QUIET_MS);
    this.skipQuiet.unref();
  }

  /** Output from the shell (or a line of ours) into the log, the mirror, the listeners and the client. */
  private take(chunk: Buffer): void {
    const now = Date.now();
    if (now - this.recentSince > RECENT_MS) {
      this.recentSince = now;
      this.recentBytes = 0;
    }
    this.recentBytes += chunk.byteLength;
    const offset = this.log.endOffset;
    this.log.append(chunk);
    this.mirror.write(chunk);
    for (const listener of this.outputListeners) listener(offset, chunk);
    this.watchForPrompt(chunk);
    if (this.client) this.scheduleSend();
    if (othersTyping(this)) this.throttle(this.contendedOutput.spend(chunk.byteLength));
    this.updateFlow();
  }

  /**
   * Sends the client what the shell printed since the last send, as few frames as possible. The
   * pty hands over a few KiB per read, one read per event-loop turn, and a frame per read costs
   * the page a parse call and an ack each: a flood came as a thousand 4 KiB frames per 4 MiB, the
   * page spending more on frames than on parsing. So output goes at once unless a flood is on (a
   * keystroke's echo waits for nothing); in a flood, within COALESCE_MS of the previous send it
   * waits for the rest of that time, or until a quarter of a frame has gathered.
   */
  private scheduleSend(): void {
    const unsent = this.log.endOffset - this.sent;
    if (unsent >= SEND_FRAME_BYTES / 4) {
      this.sendPending();
      return;
    }
    if (this.sendTimer) return;
    const since = performance.now() - this.lastSendAt;
    // Only a flood is gathered (the client has much unacknowledged, or the last frame was big):
    // small output in quick succession (echoes, a progress line) goes at once.
    const flooding = this.sent - this.acked > ACK_EVERY_BYTES || this.lastSendBytes >= ACK_EVERY_BYTES / 2;
    if (!flooding || since >= COALESCE_MS) {
      const soon = setImmediate(() => this.sendPending());
      this.sendTimer = { cancel: () => clearImmediate(soon) };
    } else {
      const later = setTimeout(() => this.sendPending(), COALESCE_MS - since);
      this.sendTimer = { cancel: () => clearTimeout(later) };
    }
  }

  private sendPending(): void {
    this.sendTimer?.cancel();
    this.sendTimer = undefined;
    this.lastSendAt = performance.now();
    const client = this.client;
    this.lastSendBytes = this.log.endOffset - this.sent;
    if (!client || this.sent >= this.log.endOffset) return;
    if (!this.log.holds(this.sent)) {
      // What the client lacks has left the log (it cannot, while flow control holds): it gets
      // the screen instead, as a client attaching afresh does.
      if (this.resyncing) return;
      this.resyncing = true;
      void this.attach(client, this.size).finally(() => { this.resyncing = false; });
      return;
    }
    for (const { offset, bytes, block } of this.log.read(this.sent, SEND_FRAME_BYTES, BINARY_HEADER_BYTES)) client.sendOutput(offset, bytes, block);
    this.sent = this.log.endOffset;
    this.updateFlow();
  }

  /**
   * While other learners type, this terminal's output is held to CONTENDED_OUTPUT_BYTES_PER_S:
   * a flood costs the engine, the exec client and this server CPU in proportion to its rate, and
   * on a small machine that CPU is what everyone's echo waits for. Alone, it runs at full speed.
   * Output already read is spent into debt, and the shell waits until the debt is paid: a fixed
   * pause let whatever the engine held burst in after it (1.7 MiB/s got through, not 256 KiB/s).
   */
  private throttle(waitMs: number): void {
    if (waitMs <= 0 || this.throttled) return;
    this.throttled = true;
    setTimeout(() => { this.throttled = false; if (!this.disposed) this.updateFlow(); }, Math.ceil(waitMs)).unref();
  }

  /**
   * Counts prompt markers in the output. The chunk is searched where it lies, and only the seam
   * (the previous chunk's tail and this one's first bytes) is joined: joining the whole chunk to
   * the tail copied every byte of a flood once more.
   */
  private watchForPrompt(chunk: Buffer): void {
    const keep = PROMPT_MARKER.length - 1;
    let found = 0;
    let end = 0;
    if (this.markerTail.length) {
      const seam = Buffer.concat([this.markerTail, chunk.subarray(0, keep)]);
      const at = seam.indexOf(PROMPT_MARKER);
      // The tail holds no whole marker, so one found here is cut by the chunk's start.
      if (at >= 0) {
        found++;
        end = at + PROMPT_MARKER.length - this.markerTail.length;
      } else if (chunk.length < keep) {
        // A chunk this short may leave part of a marker in the old tail: keep the seam's end.
        this.markerTail = seam.subarray(Math.max(0, seam.length - keep));
        return;
      }
    }
    for (let at = chunk.indexOf(PROMPT_MARKER, end); at >= 0; at = chunk.indexOf(PROMPT_MARKER, end)) {
      found++;
      end = at + PROMPT_MARKER.length;
    }
    // Keep what could be the start of a marker cut off by the chunk's end (never a seen one).
    this.markerTail = Buffer.from(chunk.subarray(Math.max(end, chunk.length - keep)));
    for (let i = 0; i < found; i++) {
      if (++this.prompts === 1) continue;
      for (const listener of this.commandListeners) listener();
    }
  }

  /**
   * Far enough behind a flood that Ctrl-C should skip to the prompt: the shell is held back, much
   * is unacknowledged, or much came in the last moments (then the exec stream and the engine hold
   * more still, even while the page keeps up). Stricter than scheduleSend's test for gathering
   * frames: skipping shows the learner a note, so a command that merely printed a screenful
   * must not trigger it.
   */
  private behind(): boolean {
    const recent = Date.now() - this.recentSince < 2 * RECENT_MS ? this.recentBytes : 0;
    return this.paused || (this.client !== undefined && this.sent - this.acked > 2 * ACK_EVERY_BYTES) || recent > FLOW_LOW_WATER / 2;
  }

  private updateFlow(): void {
    // While skipping after a Ctrl-C, the shell is read as fast as it writes: nothing read is kept.
    if (this.flush.skipping) {
      if (this.paused) {
        this.paused = false;
        if (!this.exited) this.proc.resume();
      }
      return;
    }
    const pressure = this.client ? this.sent - this.acked : 0;
    let over = false;
    let under = true;
    for (const p of this.pressures) {
      const pending = p.pending();
      if (pending > p.high) over = true;
      if (pending > p.low) under = false;
    }
    if (this.throttled) over = true;
    if (!this.paused && (pressure > FLOW_HIGH_WATER || over)) {
      this.paused = true;
      if (!this.exited) this.proc.pause();
    } else if (this.paused && pressure <= FLOW_LOW_WATER && under && !this.throttled) {
      this.paused = false;
      if (!this.exited) this.proc.resume();
    }
  }
}
