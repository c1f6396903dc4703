// A learner's session: one lab, its boxes (one per lab host), its terminals and its step runner.
// Ending it destroys the boxes.
import type { ErrorCode, ExitReason } from '../../protocol/messages.js';

/** Session-level notices shown to the learner on every attached terminal. */
export type NoticeCode = Extract<ErrorCode, 'disk-nearly-full' | 'input-dropped'>;
import type { SessionInfo } from '../../protocol/api.js';
import type { Lab } from '../labs/lab-loader.js';
import type { LabRunner } from '../labs/lab-runner.js';
import type { BoxHandle, SandboxDriver } from './sandbox-driver.js';
import { TerminalStream } from './terminal-stream.js';

export class Session {
  readonly createdAt = Date.now();
  readonly expiresAt: number;
  private lastActivity = Date.now();
  private readonly terminals = new Map<string, TerminalStream>();
  private readonly endListeners = new Set<(reason: ExitReason) => void>();
  private readonly noticeListeners = new Set<(code: NoticeCode, message: string) => void>();
  /** Hosts whose disk-nearly-full notice went out (cleared once usage falls back). */
  private readonly diskWarned = new Set<string>();
  private ended: ExitReason | undefined;
  /** Work that must finish before the boxes go (closing recordings). */
  private readonly closers = new Set<() => Promise<void>>();
  /** Connections attached now; a session with none for the idle timeout ends. */
  attachedClients = 0;

  constructor(
    readonly id: string,
    readonly token: string,
    readonly lab: Lab,
    /** Host name → box. */
    readonly boxes: Map<string, BoxHandle>,
    readonly runner: LabRunner,
    private readonly driver: SandboxDriver,
    readonly idleTimeoutMs: number,
    maxLifetimeMs: number,
    /** Input bytes a terminal queues for a shell that is not reading before it drops more. */
    private readonly inputHighWater?: number,
    /** Client resizes are coalesced to one per this many ms. */
    private readonly resizeEveryMs?: number,
  ) {
    this.expiresAt = this.createdAt + maxLifetimeMs;
  }

  /** The first host's box. */
  get box(): BoxHandle { return this.boxes.get(this.lab.hosts[0]!)!; }
  get endReason(): ExitReason | undefined { return this.ended; }
  get idleForMs(): number { return Date.now() - this.lastActivity; }

  touch(): void { this.lastActivity = Date.now(); }

  hasTerminal(id: string): boolean { return this.lab.terminals.some((t) => t.id === id); }

  /** The terminal with this id, its shell started on first use at the first client's size. */
  terminal(id: string, size: { cols: number; rows: number }): TerminalStream {
    let stream = this.terminals.get(id);
    if (!stream) {
      const spec = this.lab.terminals.find((t) => t.id === id);
      if (!spec) throw new Error(`no terminal ${id}`);
      stream = new TerminalStream({ argv: this.driver.shellArgv(this.boxes.get(spec.host)!), ...size, respawn: true,
        inputHighWater: this.inputHighWater, resizeEveryMs: this.resizeEveryMs });
      stream.onExit(() => void this.end('box-failed'));
      // Each finished command is a moment to check the current step.
      stream.onCommandDone(() => void this.runner.check('command'));
      stream.onInput((data) => { if (data.includes('\r')) this.runner.noteEnter(); });
      this.terminals.set(id, stream);
    }
    return stream;
  }

  existingTerminals(): TerminalStream[] { return [...this.terminals.values()]; }

  /** Runs (and is awaited) when the session ends, before its shells and boxes go. */
  addCloser(closer: () => Promise<void>): () => void {
    this.closers.add(closer);
    return () => this.closers.delete(closer);
  }

  /** Something the learner should know about their box (sent on each attached terminal). */
  onNotice(listener: (code: NoticeCode, message: string) => void): () => void {
    this.noticeListeners.add(listener);
    return () => this.noticeListeners.delete(listener);
  }

  notice(code: NoticeCode, message: string): void {
    for (const listener of this.noticeListeners) listener(code, message);
  }

  /** The sweeper's reading of a box's disk: at 90% of its cap the learner is told, once per filling. */
  noteDiskUse(host: string, used: number, quota: number): void {
    if (used >= 0.9 * quota && !this.diskWarned.has(host)) {
      this.diskWarned.add(host);
      const mib = (n: number): string => `${Math.round(n / 2 ** 20)} MiB`;
      const where = this.boxes.size > 1 ? ` ${host}` : '';
      this.notice('disk-nearly-full', `your box${where} has used ${mib(used)} of its ${mib(quota)} of disk; ` +
        'when it is full, writes fail with "Disk quota exceeded": remove files to continue');
    } else if (used < 0.8 * quota) {
      this.diskWarned.delete(host);
    }
  }

  onEnd(listener: (reason: ExitReason) => void): () => void {
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  info(): SessionInfo {
    return {
      id: this.id, token: this.token, lab: this.lab.id, profile: this.lab.profile, terminals: this.lab.terminals.map((t) => t.id),
      createdAt: this.createdAt, expiresAt: this.expiresAt, idleTimeoutMs: this.idleTimeoutMs,
    };
  }

  /** Tells attached clients why, closes the shells and destroys the boxes. Safe to call twice. */
  async end(reason: ExitReason): Promise<void> {
    if (this.ended) return;
    this.ended = reason;
    for (const listener of this.endListeners) listener(reason);
    this.endListeners.clear();
    await Promise.all([...this.closers].map((close) => close().catch(() => {})));
    this.runner.dispose();
    for (const stream of this.terminals.values()) stream.dispose();
    this.terminals.clear();
    await Promise.all([...this.boxes.values()].map((box) => this.driver.destroy(box)));
  }
}
