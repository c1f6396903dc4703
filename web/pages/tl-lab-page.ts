import { LitElement, css, html, nothing, type PropertyValues } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import { keyed } from 'lit/directives/keyed.js';
import type { LabChangedMessage, LabContent, LabFileProblem, LabProgress, LabTerminalInfo } from '../../protocol/api.js';
import type { ExtendResponse, LifetimeMessage } from '../../protocol/history.js';
import type { JoinResponse, SeatNotice, WorkshopJoinInfo } from '../../protocol/workshops.js';
import { ApiRequestError, errorText, getLab, listLabs } from '../api.js';
import { SplitterController } from '../controllers/splitter-controller.js';
import { applySeatNotice, type SeatState } from '../lab/seat-state.js';
import { SessionChannel } from '../lab/session-channel.js';
import { startOver } from '../lab/start-over.js';
import { clearSession, type StoredSession } from '../session-store.js';
import { getJoinInfo, joinWorkshop, nextLab } from '../workshop-api.js';
import { buttonStyles } from '../components/shared-styles.js';
import type { NextLabOffer, TlTypeInputEvent } from '../components/tl-guide.js';
import type { TlLabTerminals } from '../components/tl-lab-terminals.js';
import type { TlRecordingsChangeEvent } from '../components/tl-record-toggle.js';
import type { TlReadyEvent, TlStatusChangeEvent } from '../components/tl-terminal.js';
import '../components/tl-guide.js';
import '../components/tl-lab-bar.js';
import '../components/tl-lab-terminals.js';
import '../components/tl-lifetime.js';
import '../components/tl-replay-status.js';
import '../components/tl-seat-notices.js';

export type { TlSessionLeaveEvent } from '../components/tl-lab-bar.js';

type GuideState = 'loading' | 'ready' | 'error' | 'none';

/** A session notice stays this long. */
const NOTICE_MS = 10_000;

const WORKSHOP_ENDED = 'The workshop has ended. Thank you for taking part!';

/** A box that stopped by itself leaves the learner's place in the lab kept (their history): the lab list continues it. */
const PROGRESS_KEPT = 'Your progress is kept: continue the lab from the list of labs.';

/**
 * A reason as one sentence: capitalised, ending in one full stop. The channel's `exit` gives the
 * server's bare words, the terminal's status its own sentence: whichever comes first is shown.
 */
function asSentence(message: string): string {
  const text = message.trim().replace(/[.\s]+$/, '');
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}

/** Why a seat's session ended, when it was not the instructor's reset (those end with `ended`). */
const BOX_STOPPED: ReadonlySet<string> = new Set(['idle-timeout', 'max-lifetime', 'shell-exited', 'box-failed']);

/**
 * The running lab: its bar (title, Record, time left, End lab; a seat's hand and "being viewed"),
 * a workshop's notices, the guide on the left and the terminals on the right, split by a draggable bar.
 *
 * Progress and workshop notices come from the session channel only (web/lab/session-channel.ts).
 * A continued lab shows its fresh box being brought to where the learner left off (progress.replay),
 * and "Start over" when that fails; the box's lifetime (`lifetime`) warns before it ends and offers
 * to extend it.
 *
 * A workshop seat outlives its sessions: when the instructor resets the seat (a new box) the old
 * session ends, and the page joins the workshop again to reach the seat's new session; "Next lab"
 * on the finish page moves the seat to the workshop's next lab the same way. Only a workshop that
 * is over (or a join it refuses) leaves the page in the ended state.
 * @fires tl-session-update - `CustomEvent<StoredSession>`: the stored session changed (its expiry).
 * @fires tl-session-leave - `CustomEvent<{notice}>`: back to the lab list.
 */
@customElement('tl-lab-page')
export class TlLabPage extends LitElement {
  static override styles = [buttonStyles, css`
    :host { display: flex; flex-direction: column; flex: 1 1 auto; min-height: 0; position: relative; }
    tl-seat-notices { flex: none; padding: 0.75rem 0.75rem 0; }
    .banner {
      flex: none; margin: 0.75rem 0.75rem 0; padding: 0.625rem 0.875rem; border-radius: var(--tl-radius-sm);
      border: 1px solid var(--tl-border-strong); background: var(--tl-surface-2);
    }
    .banner.ended { border-color: var(--tl-danger-border); background: var(--tl-danger-bg); }
    /* Over the page, not in its flow: a passing notice must not resize the terminal. */
    .banner.notice { position: absolute; z-index: 5; top: 3.5rem; right: 0.75rem; max-width: min(30rem, 80vw); margin: 0; border-color: var(--tl-warn); }
    main { flex: 1 1 auto; min-height: 0; display: flex; flex-direction: row; padding: 0.75rem; }
    main.dragging { cursor: col-resize; user-select: none; }
    /* The placeholder and the guide take exactly the same room: the terminal does not resize when one replaces the other. */
    tl-guide, .guide-placeholder { flex: 0 0 var(--guide-width, 38%); min-width: 260px; box-sizing: border-box; }
    .guide-placeholder {
      display: flex; flex-direction: column; align-items: flex-start; gap: 0.75rem; padding: 1rem; font-size: 0.875rem;
      color: var(--tl-muted); background: var(--tl-surface); border: 1px solid var(--tl-border); border-radius: var(--tl-radius);
    }
    .guide-placeholder .loading { display: inline-flex; align-items: center; gap: 0.5rem; }
    .splitter { flex: none; width: 0.75rem; cursor: col-resize; position: relative; touch-action: none; }
    .splitter::after {
      content: ''; position: absolute; top: 0; bottom: 0; left: calc(50% - 1px); width: 2px; border-radius: 1px;
      background: transparent; transition: background-color 120ms;
    }
    .splitter:hover::after, .splitter:focus-visible::after, .dragging .splitter::after { background: var(--tl-accent); }
    .splitter:focus-visible { outline: none; }
    tl-lab-terminals { flex: 1 1 auto; }
    @media (max-width: 720px) {
      main { flex-direction: column; gap: 0.5rem; }
      tl-guide, .guide-placeholder { flex: 0 0 50%; min-width: 0; min-height: 0; }
      .splitter { display: none; }
      tl-lab-terminals { min-height: 200px; }
    }
    @media (max-width: 600px) { main { padding: 0.375rem; } }
  `];

  @property({ attribute: false }) session!: StoredSession;

  @state() private lab: LabContent | undefined;
  @state() private guideState: GuideState = 'loading';
  @state() private progress: LabProgress | undefined;
  /** Live reload (`labs dev` only): the lab's files on disk do not load, and what the last reload said. */
  @state() private labProblems: readonly LabFileProblem[] = [];
  @state() private reloadNotes: readonly string[] = [];
  @state() private seat: SeatState | undefined;
  /** The session is over (said by the channel or a terminal). */
  @state() private ended = '';
  @state() private walkthrough = false;
  @state() private recorded: ReadonlySet<string> = new Set();
  @state() private active: LabTerminalInfo | undefined;
  @state() private notice = '';
  private noticeTimer: ReturnType<typeof setTimeout> | undefined;
  /** A seat's session ended and the page is joining the seat again. */
  @state() private rejoining = false;
  /** The workshop's labs in order (a seat only), for "Next lab" and the titles of the labs it moves to. */
  @state() private workshopLabs: WorkshopJoinInfo['labs'] | undefined;
  /** "Next lab: <title>" on the finish page, when the seat has a lab after this one. */
  @state() private nextLab: NextLabOffer | undefined;
  /** The session ended while the page was moving the seat on (it then joins again if moving on fails). */
  private endedWhileSwitching = false;
  /** When the box goes and whether it may be extended (the channel's `lifetime`). */
  @state() private lifetime: LifetimeMessage | undefined;
  /** "Start over" after a failed replay: this box is being ended and a new one started. */
  @state() private startingOver = false;
  @state() private startOverError = '';

  @query('tl-lab-terminals') private terminalsElement!: TlLabTerminals;

  private readonly splitter = new SplitterController(this, {
    initial: 38, min: 24, max: 62, key: 'termlab.guideWidth', controls: 'guide', label: 'Resize the guide',
  });
  private readonly channel = new SessionChannel(this, {
    token: () => this.session?.token,
    onProgress: (progress) => this.onProgress(progress),
    onLifetime: (lifetime) => this.onLifetime(lifetime),
    onSeatNotice: (notice) => this.onSeatNotice(notice),
    onLabChanged: (change) => this.onLabChanged(change),
    onNotice: (message) => this.showNotice(message),
    onEnded: (reason, message) => this.onEnded(reason, message),
  });

  protected override willUpdate(changed: PropertyValues<this>): void {
    const before = changed.get('session') as StoredSession | undefined;
    if (changed.has('session') && before?.id !== this.session.id) {
      this.lab = undefined;
      this.progress = undefined;
      this.labProblems = [];
      this.reloadNotes = [];
      // The same workshop (a reset, the next lab): its countdown and hand stay; viewers and control were the old session's.
      const sameWorkshop = before?.workshop !== undefined && before.workshop.code === this.session.workshop?.code;
      this.seat = sameWorkshop && this.seat ? { ...this.seat, viewers: 0, control: 'learner' } : undefined;
      this.ended = '';
      this.recorded = new Set();
      this.active = undefined;
      this.rejoining = false;
      this.endedWhileSwitching = false;
      this.lifetime = undefined;
      this.startingOver = false;
      this.startOverError = '';
      if (before) this.channel.restart();
      void this.loadGuide();
      if (!sameWorkshop) {
        this.workshopLabs = undefined;
        void this.loadWorkshopLabs();
      }
      this.nextLab = this.nextLabOffer();
    }
  }

  /** A passing notice about the session (the box's disk nearly full...), shown for a while. */
  private showNotice(message: string): void {
    this.notice = message.charAt(0).toUpperCase() + message.slice(1);
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => { this.notice = ''; }, NOTICE_MS);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearTimeout(this.noticeTimer);
  }

  private onProgress(progress: LabProgress): void {
    const replayed = this.progress?.replay?.state === 'running' && progress.replay?.state === 'done';
    this.progress = progress;
    if (replayed) this.showNotice(`Your box is where you left off: go on with step ${progress.current + 1}.`);
  }

  /** The box's lifetime, at the start and after each extension: the bar's time left follows (tl-home-page stores it). */
  private onLifetime(lifetime: LifetimeMessage): void {
    // The extension's answer and the channel's message say the same; an older one arriving last must not undo it.
    if (this.lifetime && lifetime.expiresAt < this.lifetime.expiresAt) return;
    this.lifetime = lifetime;
    if (this.session.expiresAt !== lifetime.expiresAt) this.emit('tl-session-update', { ...this.session, expiresAt: lifetime.expiresAt });
  }

  /** The continued box could not be brought to where the learner left off: a fresh box for a new attempt. */
  private async startOver(): Promise<void> {
    if (this.startingOver) return;
    const from = this.session;
    this.startingOver = true;
    this.startOverError = '';
    try {
      const next = await startOver(from);
      if (this.session.id === from.id) this.emit('tl-session-update', next); // willUpdate starts over with it
    } catch (err) {
      if (this.session.id !== from.id) return;
      this.startingOver = false;
      const message = `Could not start over: ${errorText(err)}`;
      if (!this.endedWhileSwitching) this.startOverError = message;
      else this.showEnded(`${message}. Start the lab again from the lab list.`);
    }
  }

  /** Live reload: the guide shows the version running now; the terminals (same session, same shells) stay as they are. */
  private onLabChanged(change: LabChangedMessage): void {
    this.lab = change.content;
    this.guideState = 'ready';
    this.labProblems = change.problems;
    this.reloadNotes = change.notes;
  }

  private onSeatNotice(notice: SeatNotice): void {
    this.seat = applySeatNotice(this.seat, notice);
    if (notice.kind === 'workshop' && notice.phase === 'ended') this.showEnded(WORKSHOP_ENDED);
  }

  /** The session is over (the channel or a terminal says so). A seat joins again unless the workshop is over. */
  private onEnded(reason: string, message: string): void {
    if (this.ended) return;
    if (this.rejoining || this.nextLab?.busy || this.startingOver) {
      this.endedWhileSwitching = true;
      return;
    }
    if (this.session.workshop && this.seat?.phase !== 'ended') void this.rejoin(reason);
    else if (!this.session.workshop && BOX_STOPPED.has(reason) && message) this.showEnded(`${asSentence(message)} ${PROGRESS_KEPT}`);
    else this.showEnded(message);
  }

  private showEnded(message: string): void {
    if (this.ended) return;
    this.rejoining = false;
    this.ended = message || 'The lab session has ended.';
    clearSession(); // a reload shows the list, not a lab that cannot connect
  }

  /**
   * The seat's session ended but the seat lives on (the instructor reset it: a new box): join the
   * workshop again, which answers with the seat's current session for this browser, and switch to it.
   */
  private async rejoin(reason: string): Promise<void> {
    const from = this.session;
    const seat = from.workshop!;
    this.rejoining = true;
    try {
      // Asking first: an ended workshop is a plain answer here, where the join would be an error.
      const info = await getJoinInfo(seat.code);
      if (this.session.id !== from.id || this.ended) return;
      if (info.phase !== 'open') return this.showEnded(info.phase === 'ended' ? WORKSHOP_ENDED : 'The lab session has ended.');
      this.setWorkshopLabs(info.labs);
      const joined = await joinWorkshop(seat.code, seat.name);
      if (this.session.id !== from.id || this.ended) return;
      if (joined.session.id === from.id) return this.showEnded('The lab session has ended.');
      this.switchTo(joined);
      this.showNotice(BOX_STOPPED.has(reason) ? 'Your lab box stopped: you are in a fresh one.' : 'Your instructor gave you a fresh box.');
    } catch (err) {
      if (this.session.id !== from.id) return;
      const refused = err instanceof ApiRequestError && (err.status === 410 || err.status === 409);
      this.showEnded(refused && (err as ApiRequestError).status === 410 ? WORKSHOP_ENDED
        : refused ? `The lab session has ended: ${errorText(err)}`
        : `The lab session has ended and your seat could not be reached (${errorText(err)}). Open the workshop's link again to go back to it.`);
    }
  }

  /** "Next lab" on the finish page: the seat moves to the workshop's next lab, on a new box. */
  private async goToNextLab(): Promise<void> {
    const offer = this.nextLab;
    if (!offer || offer.busy) return;
    const from = this.session;
    this.nextLab = { ...offer, busy: true, error: undefined };
    try {
      const joined = await nextLab(from.id, from.token);
      if (this.session.id === from.id) this.switchTo(joined);
    } catch (err) {
      if (this.session.id !== from.id) return;
      this.nextLab = { ...offer, busy: false, error: `The next lab could not start: ${errorText(err)}` };
      // The old session ended meanwhile: the seat is somewhere, so join it again.
      if (this.endedWhileSwitching) {
        this.endedWhileSwitching = false;
        void this.rejoin('ended');
      }
    }
  }

  /** Makes the seat's new session the page's (tl-home-page stores it; willUpdate starts over). */
  private switchTo(joined: JoinResponse): void {
    const { session } = joined;
    const from = this.session;
    const title = this.workshopLabs?.find((l) => l.id === session.lab)?.title
      ?? (session.lab === from.lab ? from.title : session.lab);
    this.emit<StoredSession>('tl-session-update', {
      id: session.id, token: session.token, lab: session.lab, title, expiresAt: session.expiresAt,
      terminals: session.terminals.length > 0 ? session.terminals : undefined,
      workshop: { code: from.workshop!.code, seat: joined.seat, name: joined.name },
    });
  }

  /** The workshop's labs, in order (a seat only): what "Next lab" offers. */
  private async loadWorkshopLabs(): Promise<void> {
    const code = this.session.workshop?.code;
    if (!code) return;
    try {
      const info = await getJoinInfo(code);
      if (this.session.workshop?.code === code) this.setWorkshopLabs(info.labs);
    } catch { /* no Next lab button then */ }
  }

  private setWorkshopLabs(labs: WorkshopJoinInfo['labs']): void {
    this.workshopLabs = labs;
    if (!this.nextLab?.busy) this.nextLab = this.nextLabOffer();
  }

  private nextLabOffer(): NextLabOffer | undefined {
    const labs = this.workshopLabs;
    if (!this.session.workshop || !labs) return undefined;
    const index = labs.findIndex((l) => l.id === this.session.lab);
    const next = index >= 0 ? labs[index + 1] : undefined;
    return next ? { title: next.title, busy: false } : undefined;
  }

  /** Fetches the guide's content. A server without guides (404) shows the terminal alone. */
  private async loadGuide(): Promise<void> {
    const session = this.session;
    this.guideState = 'loading';
    void this.loadWalkthroughFlag(session);
    try {
      const lab = await getLab(session.id, session.token);
      if (this.session.id !== session.id) return;
      this.lab = lab;
      this.guideState = 'ready';
    } catch (err) {
      if (this.session.id !== session.id) return;
      this.guideState = err instanceof ApiRequestError && err.status === 404 ? 'none' : 'error';
      console.warn('termlab: cannot load the lab guide:', errorText(err));
    }
  }

  /** Whether the lab has a walkthrough: the lab list says (LabContent does not). */
  private async loadWalkthroughFlag(session: StoredSession): Promise<void> {
    try {
      const { labs } = await listLabs();
      if (this.session.id === session.id) this.walkthrough = labs.find((l) => l.id === session.lab)?.walkthrough ?? false;
    } catch { /* no walkthrough button then */ }
  }

  private terminals(): LabTerminalInfo[] {
    if (this.lab && this.lab.terminals.length > 0) return this.lab.terminals;
    return (this.session.terminals ?? ['main']).map((id) => ({ id, title: id, host: '' }));
  }

  private onStatusChange(ev: TlStatusChangeEvent): void {
    if (ev.detail.state === 'ended' && ev.detail.sessionGone) this.onEnded(ev.detail.reason ?? 'closed', ev.detail.message ?? '');
  }

  private onReady(ev: TlReadyEvent): void {
    // Back online after the guide failed to load: try again.
    if (this.guideState === 'error') void this.loadGuide();
    if (this.session.expiresAt !== ev.detail.expiresAt) {
      this.emit('tl-session-update', { ...this.session, expiresAt: ev.detail.expiresAt });
    }
  }

  /** Run and Show me: types into the named terminal and brings its tab forward. */
  private onTypeInput(ev: TlTypeInputEvent): void {
    const { terminal, text, interrupt } = ev.detail;
    if (this.terminalsElement?.typeInto(terminal, text, interrupt)) ev.preventDefault(); // else the guide says so
  }

  private emit<T>(type: string, detail: T): void {
    this.dispatchEvent(new CustomEvent<T>(type, { detail, bubbles: true, composed: true }));
  }

  protected override render() {
    const session = this.session;
    const terminals = this.terminals();
    return html`
      <tl-lab-bar .session=${session} .seat=${this.seat} .active=${this.active ?? terminals[0]} .lifetime=${this.lifetime}
                  ?tabbed=${terminals.length > 1} ?ended=${this.ended !== ''}
                  @tl-hand=${(ev: CustomEvent<boolean>) => { this.seat = this.seat && { ...this.seat, hand: ev.detail }; }}
                  @tl-recordings-change=${(ev: TlRecordingsChangeEvent) => { this.recorded = new Set(ev.detail.keys()); }}></tl-lab-bar>
      ${this.ended ? html`<div class="banner ended" role="alert" data-testid="session-ended">${this.ended}</div>` : nothing}
      ${this.rejoining && !this.ended
        ? html`<div class="banner" role="status" data-testid="session-rejoining"><span class="spinner" aria-hidden="true"></span>
            Your lab session ended: taking you back to your seat…</div>`
        : nothing}
      ${this.notice ? html`<div class="banner notice" role="status" data-testid="session-notice">${this.notice}</div>` : nothing}
      ${this.ended ? nothing : this.renderBoxState()}
      ${session.workshop
        ? html`<tl-seat-notices .session=${session.id} .token=${session.token} .seat=${this.seat}
                                .current=${this.progress?.current ?? 0}
                                @tl-broadcast-dismiss=${() => { this.seat = this.seat && { ...this.seat, broadcast: undefined }; }}></tl-seat-notices>`
        : nothing}
      <main class=${this.splitter.dragging ? 'dragging' : ''} style="--guide-width: ${this.splitter.width}%">
        ${keyed(session.id, html`${this.renderGuide()}${this.renderTerminals(terminals)}`)}
      </main>`;
  }

  /** A continued box being brought to where the learner left off, and the warning before the box's lifetime ends (not for a seat: its workshop says when). */
  private renderBoxState() {
    const session = this.session;
    return html`<tl-replay-status .replay=${this.progress?.replay} ?busy=${this.startingOver} .error=${this.startOverError}
                                  @tl-start-over=${() => void this.startOver()}></tl-replay-status>
      ${session.workshop ? nothing : html`<tl-lifetime .lifetime=${this.lifetime} .session=${session.id} .token=${session.token}
                                                       @tl-lifetime-change=${(ev: CustomEvent<ExtendResponse>) => this.onLifetime({ type: 'lifetime', ...ev.detail })}></tl-lifetime>`}`;
  }

  private renderGuide() {
    if (this.guideState === 'none') return nothing;
    const session = this.session;
    const guide = this.lab
      ? html`<tl-guide id="guide" .lab=${this.lab} .progress=${this.progress} .session=${session.id} .token=${session.token}
                       .walkthrough=${this.walkthrough} ?reportHints=${session.workshop !== undefined} .nextLab=${this.nextLab}
                       .problems=${this.labProblems} .reloadNotes=${this.reloadNotes}
                       @tl-type-input=${this.onTypeInput} @tl-next-lab=${() => void this.goToNextLab()}></tl-guide>`
      : html`<div class="guide-placeholder" id="guide" data-testid="guide-placeholder">
          ${this.guideState === 'error'
            ? html`<span role="alert">The lab guide could not be loaded.</span>
                   <button class="small" @click=${() => void this.loadGuide()}>Try again</button>`
            : html`<span class="loading"><span class="spinner" aria-hidden="true"></span>Loading the guide…</span>`}
        </div>`;
    return html`${guide}${this.splitter.render()}`;
  }

  private renderTerminals(terminals: LabTerminalInfo[]) {
    return html`<tl-lab-terminals .token=${this.session.token} .terminals=${terminals} .recorded=${this.recorded}
                                  @tl-active-terminal=${(ev: CustomEvent<LabTerminalInfo>) => { this.active = ev.detail; }}
                                  @tl-status-change=${this.onStatusChange} @tl-ready=${this.onReady}
                                  @tl-back=${() => this.emit('tl-session-leave', { notice: '' })}></tl-lab-terminals>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'tl-lab-page': TlLabPage }
  interface HTMLElementEventMap { 'tl-session-update': CustomEvent<StoredSession> }
}
