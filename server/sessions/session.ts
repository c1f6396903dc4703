// A learner's session: one lab, its boxes (one per lab host), its terminals and its step runner.
// Ending it destroys the boxes.
import type { ErrorCode, ExitReason } from '../../protocol/messages.js';

/** Session-level notices for the learner's page, sent on the session channel (session-channel.ts). */
export type NoticeCode = Extract<ErrorCode, 'disk-nearly-full'>;
import type { LabChangedMessage, LabFileProblem, SessionInfo } from '../../protocol/api.js';
import type { ExtendResponse } from '../../protocol/history.js';
import { labContent } from '../labs/catalog.js';
import type { SeatNotice } from '../../protocol/workshops.js';
import type { Lab } from '../labs/lab-loader.js';
import type { LabRunner } from '../labs/lab-runner.js';
import { SHELL_TAKEN, type BoxHandle, type SandboxDriver } from '../sandbox/sandbox-driver.js';
import type { Release } from './session-records.js';
import { TerminalStream } from './terminal-stream.js';

/**
 * The highest offset an adopted terminal continues from (256 TiB of output): a page claiming more
 * is sent a snapshot instead, so its stream's offsets stay exact integers.
 */
const MAX_START_OFFSET = 2 ** 48;

export class Session {
  /** When the session started (on whichever replica made it). */
  get createdAt(): number { return this.createdAtMs; }
  private createdAtMs = Date.now();
  /** The maximum lifetime's end: moved on by each extension (extend()). */
  get expiresAt(): number { return this.expiresAtMs; }
  private expiresAtMs: number;
  /** Extensions the learner may still ask for, and what each adds (SessionManager sets them; seats get none). */
  private extensionsLeft = 0;
  private extendMs = 0;
  private readonly lifetimeListeners = new Set<(lifetime: ExtendResponse) => void>();
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
  /** Set while a workshop seat holds this session: its idle timeout does not apply, the workshop's end does. */
  workshop: string | undefined;
  private readonly seatListeners = new Set<(notice: SeatNotice) => void>();
  private controller: 'learner' | 'instructor' = 'learner';
  private controlRequested = false;
  private readonly controlListeners = new Set<(who: 'learner' | 'instructor') => void>();
  private viewerCount = 0;
  private readonly viewerListeners = new Set<(count: number) => void>();
  /**
   * Taken over from another replica (session-records.ts): each terminal's first stream here
   * continues the page's offsets, so the page keeps its screen.
   */
  private adopted = false;
  /** Asked before the boxes go: whether they are this server's to destroy (another replica may carry the session on). */
  private releaseBoxes: () => Promise<Release> = async () => 'destroy';

  constructor(
    readonly id: string,
    readonly token: string,
    lab: Lab,
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
    this.expiresAtMs = this.createdAt + maxLifetimeMs;
    this.labNow = lab;
  }

  /** The lab this session runs: the one it started with, or live reload's latest good version (`labs dev`). */
  get lab(): Lab { return this.labNow; }
  private labNow: Lab;

  // ---- live reload (`npm run labs -- dev`, server/labs/lab-dev.ts): never used in normal serving ----

  /** The latest live-reload message, for pages that connect later; undefined until the lab's files first change. */
  get labChange(): LabChangedMessage | undefined { return this.lastLabChange; }
  private lastLabChange: LabChangedMessage | undefined;
  private readonly labChangeListeners = new Set<(msg: LabChangedMessage) => void>();

  /**
   * The lab's files changed (`labs dev`): `lab` is the version to run now, or undefined when the files
   * do not load (`problems` says why, and the version running now keeps running). The runner takes a
   * new version over and re-checks the current step, so the author sees the new check's verdict at once.
   */
  reloadLab(lab: Lab | undefined, problems: LabFileProblem[], notes: string[] = []): void {
    const said = [...notes];
    if (lab) {
      this.labNow = lab;
      said.push(...this.runner.replaceLab(lab));
    }
    const msg: LabChangedMessage = { type: 'lab-changed', content: labContent(this.labNow), problems, notes: said };
    this.lastLabChange = msg;
    for (const listener of this.labChangeListeners) listener(msg);
    if (lab) void this.runner.check('reload');
  }

  onLabChange(listener: (msg: LabChangedMessage) => void): () => void {
    this.labChangeListeners.add(listener);
    return () => this.labChangeListeners.delete(listener);
  }

  /** The first host's box. */
  get box(): BoxHandle { return this.boxes.get(this.lab.hosts[0]!)!; }
  get endReason(): ExitReason | undefined { return this.ended; }
  get idleForMs(): number { return Date.now() - this.lastActivity; }

  touch(): void { this.lastActivity = Date.now(); }

  hasTerminal(id: string): boolean { return this.lab.terminals.some((t) => t.id === id); }

  /**
   * The terminal with this id, its shell started (or, on a backend that keeps shells, attached) on
   * first use at the first client's size. `resumeFrom`: where that client's screen stops.
   */
  terminal(id: string, size: { cols: number; rows: number }, resumeFrom?: number): TerminalStream {
    let stream = this.terminals.get(id);
    if (!stream) {
      const index = this.lab.terminals.findIndex((t) => t.id === id);
      if (index < 0) throw new Error(`no terminal ${id}`);
      const box = this.boxes.get(this.lab.terminals[index]!.host)!;
      stream = new TerminalStream({ shell: (at) => this.driver.openShell(box, at, index), ...size, respawn: true,
        inputHighWater: this.inputHighWater, resizeEveryMs: this.resizeEveryMs,
        startOffset: this.adopted && resumeFrom !== undefined && resumeFrom <= MAX_START_OFFSET ? resumeFrom : undefined });
      // A shell another replica attached to is that replica's now (it adopted the session).
      stream.onExit((code) => void this.end(code === SHELL_TAKEN ? 'replaced' : 'box-failed'));
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

  // ---- workshops: what a seated learner hears, who types, who watches ----

  /** A workshop notice for the learner's page (sent on the session channel). */
  notify(notice: SeatNotice): void {
    if (notice.kind === 'workshop' || notice.kind === 'hand' || notice.kind === 'ending') this.lastNotices.set(notice.kind, notice);
    for (const listener of this.seatListeners) listener(notice);
  }

  /** Notices that describe a state rather than an event: the latest ones, remembered for pages that connect later. */
  private readonly lastNotices = new Map<SeatNotice['kind'], SeatNotice>();

  /** What a page connecting now must know (session-channel.ts sends it first): the workshop, the hand, who watches and who types. */
  seatState(): SeatNotice[] {
    const state = [...this.lastNotices.values()];
    if (this.viewerCount > 0) state.push({ kind: 'viewers', count: this.viewerCount });
    if (this.controlRequested) state.push({ kind: 'control', state: 'requested' });
    else if (this.controller === 'instructor') state.push({ kind: 'control', state: 'instructor' });
    return state;
  }

  onSeatNotice(listener: (notice: SeatNotice) => void): () => void {
    this.seatListeners.add(listener);
    return () => this.seatListeners.delete(listener);
  }

  /** Who may type into this session's terminals: the learner, or the instructor once the learner agreed. */
  get control(): 'learner' | 'instructor' { return this.controller; }
  get controlPending(): boolean { return this.controlRequested; }

  /** The instructor asks to type; the learner's page shows the request and answers with grantControl. */
  requestControl(): void {
    this.controlRequested = true;
    this.notify({ kind: 'control', state: 'requested' });
  }

  /** The learner's answer, or the learner taking control back (at any time), or the instructor letting go. */
  setControl(who: 'learner' | 'instructor'): void {
    if (who === 'instructor' && !this.controlRequested && this.controller !== 'instructor') return;
    const wasRequested = this.controlRequested;
    this.controlRequested = false;
    if (this.controller === who) {
      // A declined request: control did not change, but whoever shows the request must drop it.
      if (wasRequested) this.notify({ kind: 'control', state: who });
      return;
    }
    this.controller = who;
    this.notify({ kind: 'control', state: who });
    for (const listener of this.controlListeners) listener(who);
  }

  onControlChange(listener: (who: 'learner' | 'instructor') => void): () => void {
    this.controlListeners.add(listener);
    return () => this.controlListeners.delete(listener);
  }

  /** Viewers of this session's terminals now (the learner's page shows "being viewed"). */
  get viewers(): number { return this.viewerCount; }

  /** A view socket attached (+1) or went (-1). */
  addViewer(delta: 1 | -1): void {
    this.viewerCount = Math.max(0, this.viewerCount + delta);
    this.notify({ kind: 'viewers', count: this.viewerCount });
    for (const listener of this.viewerListeners) listener(this.viewerCount);
  }

  onViewersChange(listener: (count: number) => void): () => void {
    this.viewerListeners.add(listener);
    return () => this.viewerListeners.delete(listener);
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

  // ---- lifetime: a learner may push the maximum lifetime back a few times (where the operator allows) ----

  allowExtensions(count: number, eachMs: number): void {
    this.extensionsLeft = count;
    this.extendMs = eachMs;
  }

  lifetime(): ExtendResponse {
    const seat = this.workshop !== undefined;
    return { createdAt: this.createdAt, expiresAt: this.expiresAt, idleTimeoutMs: this.idleTimeoutMs, extensionsLeft: seat ? 0 : this.extensionsLeft, extendMs: this.extendMs };
  }

  /** Adds one extension to the lifetime; false when none is left (or this is a workshop seat, which lives as long as its workshop). */
  extend(): boolean {
    if (this.workshop !== undefined || this.extensionsLeft <= 0 || this.ended) return false;
    this.extensionsLeft--;
    // From the later of now and the current end: an extension asked for after "time is up" but before the sweep still gives its whole length.
    this.expiresAtMs = Math.max(this.expiresAtMs, Date.now()) + this.extendMs;
    const lifetime = this.lifetime();
    for (const listener of this.lifetimeListeners) listener(lifetime);
    return true;
  }

  /** This session was taken over from another replica: its start and lifetime are the record's. */
  adoptedFrom(createdAt: number, expiresAt: number, extensionsLeft: number, extendMs: number): void {
    this.adopted = true;
    this.createdAtMs = createdAt;
    this.expiresAtMs = expiresAt;
    this.extensionsLeft = extensionsLeft;
    this.extendMs = extendMs;
  }

  /** How end() learns whether the boxes are this server's to destroy (SessionManager: the session's record). */
  onRelease(release: () => Promise<Release>): void { this.releaseBoxes = release; }

  onLifetime(listener: (lifetime: ExtendResponse) => void): () => void {
    this.lifetimeListeners.add(listener);
    return () => this.lifetimeListeners.delete(listener);
  }

  onEnd(listener: (reason: ExitReason) => void): () => void {
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  info(): SessionInfo {
    return {
      id: this.id, token: this.token, lab: this.lab.id, profile: this.lab.profile, terminals: this.lab.terminals.map((t) => t.id),
      createdAt: this.createdAt, expiresAt: this.expiresAt, idleTimeoutMs: this.idleTimeoutMs,
      extensionsLeft: this.lifetime().extensionsLeft, extendMs: this.extendMs,
    };
  }

  /**
   * Tells attached clients why, closes the shells and destroys the boxes, unless another replica
   * carries the session on. Safe to call twice.
   */
  async end(reason: ExitReason): Promise<void> {
    if (!(await this.leave(reason))) return;
    // A database out of reach must not leave boxes running: another replica cannot have taken them without it either.
    if (await this.releaseBoxes().catch(() => 'destroy' as const) === 'taken') return;
    await Promise.all([...this.boxes.values()].map((box) => this.driver.destroy(box)));
  }

  /**
   * This server lets the session go but its boxes stay, for another replica to adopt (a clean stop
   * with others running): attached clients were told to reconnect, so no end is announced.
   */
  async handOver(): Promise<void> {
    this.endListeners.clear();
    await this.leave('server-stopping');
  }

  /** Closes this server's part: recordings, the runner, the streams (a kept shell stays in its box). False if done already. */
  private async leave(reason: ExitReason): Promise<boolean> {
    if (this.ended) return false;
    this.ended = reason;
    for (const listener of this.endListeners) listener(reason);
    this.endListeners.clear();
    await Promise.all([...this.closers].map((close) => close().catch(() => {})));
    this.runner.dispose();
    for (const stream of this.terminals.values()) stream.dispose();
    this.terminals.clear();
    return true;
  }
}
