import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { LabTerminalInfo } from '../../protocol/api.js';
import type { LifetimeMessage } from '../../protocol/history.js';
import { deleteSession, errorText, setHand } from '../api.js';
import { ClockController, formatTimeLeft } from '../controllers/clock-controller.js';
import { idleNote } from '../lab/lifetime.js';
import type { SeatState } from '../lab/seat-state.js';
import type { StoredSession } from '../session-store.js';
import { buttonStyles } from './shared-styles.js';
import './tl-record-toggle.js';

/**
 * The running lab's bar: its title, Record, the time left (the workshop's end for a seat, which moves
 * when the instructor extends it) and End lab; for a workshop seat also the hand and "being viewed".
 * @fires tl-session-leave - `CustomEvent<{notice: string}>`: the lab was ended here.
 * @fires tl-hand - `CustomEvent<boolean>`: the hand was raised or lowered (the server confirms on the channel).
 */
@customElement('tl-lab-bar')
export class TlLabBar extends LitElement {
  static override styles = [buttonStyles, css`
    :host {
      display: flex; align-items: center; flex-wrap: wrap; gap: 0.5rem 1rem; padding: 0.375rem 1.25rem; min-height: 3.25rem;
      box-sizing: border-box; border-bottom: 1px solid var(--tl-border); background: var(--tl-surface);
    }
    .title { flex: 1 1 auto; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-weight: 600; }
    .workshop { color: var(--tl-muted); font-weight: 400; }
    .actions { display: flex; align-items: center; flex-wrap: wrap; gap: 0.5rem 1rem; margin-left: auto; }
    .time { font-variant-numeric: tabular-nums; font-size: 0.875rem; color: var(--tl-muted); white-space: nowrap; }
    .time strong { color: var(--tl-text); font-weight: 600; }
    .time.low strong { color: var(--tl-warn); }
    .time.over strong { color: var(--tl-danger); }
    .viewed {
      display: inline-flex; align-items: center; gap: 0.375rem; font-size: 0.8125rem; color: var(--tl-warn);
      border: 1px solid currentColor; border-radius: 999px; padding: 0.125rem 0.5rem;
    }
    .viewed .pulse { width: 0.5rem; height: 0.5rem; border-radius: 50%; background: currentColor; }
    button.hand[aria-pressed='true'] { background: var(--tl-warn); border-color: var(--tl-warn); color: #0d1117; }
    .error { flex-basis: 100%; color: var(--tl-danger); font-size: 0.875rem; }
  `];

  @property({ attribute: false }) session!: StoredSession;
  /** Workshop state of a seat (undefined outside workshops, or until the first notice). */
  @property({ attribute: false }) seat: SeatState | undefined;
  @property({ attribute: false }) active: LabTerminalInfo | undefined;
  @property({ type: Boolean }) tabbed = false;
  /** The session is over: only Close remains. */
  @property({ type: Boolean }) ended = false;
  /** Each second re-renders this element only (the lab page around it, guide and terminals, does not tick). */
  private readonly clock = new ClockController(this);
  /** The box's lifetime (the session channel's `lifetime`): its idle timeout, said on the time left. */
  @property({ attribute: false }) lifetime: LifetimeMessage | undefined;

  @state() private ending = false;
  @state() private handBusy = false;
  @state() private error = '';

  private async end(): Promise<void> {
    if (this.ending) return;
    // Close lab: the session is over already, there is nothing to end on the server.
    if (this.ended) return this.emit('tl-session-leave', { notice: '' });
    this.ending = true;
    this.error = '';
    try {
      await deleteSession(this.session.id, this.session.token);
      this.emit('tl-session-leave', { notice: '' });
    } catch (err) {
      this.error = `Could not end the lab: ${errorText(err)}`;
    } finally {
      this.ending = false;
    }
  }

  private async toggleHand(): Promise<void> {
    const raised = !(this.seat?.hand ?? false);
    this.handBusy = true;
    this.error = '';
    try {
      await setHand(this.session.id, this.session.token, raised);
      this.emit('tl-hand', raised);
    } catch (err) {
      this.error = `Could not ${raised ? 'raise' : 'lower'} your hand: ${errorText(err)}`;
    } finally {
      this.handBusy = false;
    }
  }

  private emit<T>(type: string, detail: T): void {
    this.dispatchEvent(new CustomEvent<T>(type, { detail, bubbles: true, composed: true }));
  }

  protected override render() {
    const session = this.session;
    const workshop = session.workshop;
    return html`
      <span class="title" title=${session.title}>${session.title}${workshop && this.seat?.title
        ? html` <span class="workshop">· ${this.seat.title}</span>` : nothing}</span>
      <div class="actions">
        ${workshop && !this.ended ? this.renderSeatActions() : nothing}
        ${this.ended ? nothing : this.renderRecord()}
        ${this.ended ? nothing : this.renderTime()}
        ${workshop && !this.ended ? nothing : this.renderEnd()}
      </div>
      ${this.error ? html`<div class="error" role="alert">${this.error}</div>` : nothing}`;
  }

  private renderSeatActions() {
    const viewers = this.seat?.viewers ?? 0;
    const hand = this.seat?.hand ?? false;
    return html`
      ${viewers > 0
        ? html`<span class="viewed" data-testid="being-viewed" title="Your instructor or an assistant is viewing your terminal">
            <span class="pulse" aria-hidden="true"></span>Being viewed${viewers > 1 ? ` (${viewers})` : ''}</span>`
        : nothing}
      <button class="small hand" data-testid="hand" aria-pressed=${hand ? 'true' : 'false'} ?disabled=${this.handBusy}
              @click=${() => void this.toggleHand()}>${hand ? 'Lower hand' : 'Raise hand'}</button>`;
  }

  private renderRecord() {
    const active = this.active ?? { id: 'main', title: '' };
    return html`<tl-record-toggle .session=${this.session.id} .token=${this.session.token} .terminal=${active.id}
                                  .terminalTitle=${this.tabbed ? active.title || active.id : ''}></tl-record-toggle>`;
  }

  private renderTime() {
    const seat = this.session.workshop ? this.seat : undefined;
    const endsAt = seat?.endsAt || this.session.expiresAt;
    const left = endsAt - this.clock.now;
    const timeClass = left <= 0 ? 'over' : left < 5 * 60_000 ? 'low' : '';
    const testid = seat ? 'workshop-countdown' : 'time-left';
    return html`<span class="time ${timeClass}" data-testid=${testid} data-ends-at=${endsAt}
                      title=${seat ? 'Until the end of the workshop' : this.timeTitle()}>
      ${left > 0 ? html`<strong>${formatTimeLeft(left)}</strong> left` : html`<strong>Time is up</strong>`}
    </span>`;
  }

  /** Until when, and what leaving costs: the box goes after a while without a browser, the progress stays. */
  private timeTitle(): string {
    return this.lifetime ? `Until this lab ends. ${idleNote(this.lifetime.idleTimeoutMs)}` : 'Until this lab ends';
  }

  private renderEnd() {
    return html`<button class="danger" data-testid="end-lab" ?disabled=${this.ending} @click=${this.end}>
      ${this.ending ? html`<span class="spinner" aria-hidden="true"></span>Ending…` : this.ended ? 'Close lab' : 'End lab'}
    </button>`;
  }
}

export type TlSessionLeaveEvent = CustomEvent<{ notice: string }>;

declare global {
  interface HTMLElementTagNameMap { 'tl-lab-bar': TlLabBar }
  interface HTMLElementEventMap {
    'tl-session-leave': TlSessionLeaveEvent;
    'tl-hand': CustomEvent<boolean>;
  }
}
