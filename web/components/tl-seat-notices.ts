import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { errorText, grantControl } from '../api.js';
import { copyText } from '../clipboard.js';
import { ClockController, formatTimeLeft } from '../controllers/clock-controller.js';
import { splitBroadcast } from '../lab/broadcast.js';
import type { SeatState } from '../lab/seat-state.js';
import { buttonStyles } from './shared-styles.js';

/**
 * A workshop seat's notices above the lab: the instructor's broadcast (code in it copyable), the
 * request to take control of the terminal (the learner's consent) and "take back control" while the
 * instructor has it, and the warning before the workshop ends.
 * @fires tl-broadcast-dismiss - the learner closed the broadcast.
 */
@customElement('tl-seat-notices')
export class TlSeatNotices extends LitElement {
  static override styles = [buttonStyles, css`
    :host { display: flex; flex-direction: column; gap: 0.5rem; }
    :host(:not([has-notices])) { display: none; }
    .notice {
      display: flex; align-items: flex-start; gap: 0.75rem; flex-wrap: wrap; padding: 0.625rem 0.875rem;
      border-radius: var(--tl-radius-sm); border: 1px solid var(--tl-border-strong); background: var(--tl-surface-2); font-size: 0.9375rem;
    }
    .notice.broadcast { border-color: var(--tl-accent); }
    .notice.control, .notice.ending { border-color: var(--tl-warn); }
    .body { flex: 1 1 20rem; min-width: 0; overflow-wrap: anywhere; }
    /* A broadcast keeps its line breaks (its template adds no whitespace of its own). */
    .broadcast .body { white-space: pre-wrap; }
    .label { font-weight: 700; margin-right: 0.375rem; }
    code { font-family: var(--tl-mono); font-size: 0.875em; background: var(--tl-bg); padding: 0.0625rem 0.25rem; border-radius: 4px; }
    .code { display: inline-flex; align-items: center; gap: 0.25rem; }
    .buttons { display: flex; gap: 0.5rem; }
    .error { flex-basis: 100%; color: var(--tl-danger); font-size: 0.875rem; }
  `];

  @property() session = '';
  @property() token = '';
  @property({ attribute: false }) seat: SeatState | undefined;
  /** Each second re-renders this element only (the lab page around it, guide and terminals, does not tick). */
  private readonly clock = new ClockController(this);
  /** The learner's current step, from 0 (the lab's progress): a paced room may not have opened it yet. */
  @property({ type: Number }) current = 0;

  @state() private busy = false;
  @state() private error = '';
  @state() private copied = -1;

  protected override updated(): void {
    this.toggleAttribute('has-notices', this.renderRoot.querySelector('.notice') !== null);
  }

  private async answerControl(grant: boolean): Promise<void> {
    this.busy = true;
    this.error = '';
    try {
      await grantControl(this.session, this.token, grant);
    } catch (err) {
      this.error = `Could not answer: ${errorText(err)}`;
    } finally {
      this.busy = false;
    }
  }

  private async copy(text: string, index: number): Promise<void> {
    await copyText(text, this.renderRoot);
    this.copied = index;
  }

  protected override render() {
    const seat = this.seat;
    if (!seat) return nothing;
    return html`${this.renderEnding(seat)}${this.renderControl(seat)}${this.renderBroadcast(seat)}${this.renderPace(seat)}`;
  }

  private renderBroadcast(seat: SeatState) {
    const broadcast = seat.broadcast;
    if (!broadcast) return nothing;
    const parts = splitBroadcast(broadcast.message);
    return html`<div class="notice broadcast" role="status" data-testid="broadcast" data-at=${broadcast.at}>
      <div class="body"><span class="label">From your instructor:</span>${parts.map((p, i) => p.code
        ? html`<span class="code"><code>${p.text}</code><button class="small" data-testid="broadcast-copy"
              @click=${() => void this.copy(p.text, i)}>${this.copied === i ? 'Copied' : 'Copy'}</button></span>`
        : p.text)}</div>
      <button class="small" aria-label="Dismiss the message"
              @click=${() => this.dispatchEvent(new CustomEvent('tl-broadcast-dismiss', { bubbles: true, composed: true }))}>Dismiss</button>
    </div>`;
  }

  private renderControl(seat: SeatState) {
    if (seat.control === 'learner') return nothing;
    const requested = seat.control === 'requested';
    return html`<div class="notice control" role="alert" data-testid="control-${seat.control}">
      <div class="body">${requested
        ? 'Your instructor asks to type in your terminal, to help you. You can take control back at any time.'
        : 'Your instructor is typing in your terminal. You can take control back at any time.'}</div>
      <div class="buttons">${requested
        ? html`<button class="small primary" data-testid="control-allow" ?disabled=${this.busy} @click=${() => void this.answerControl(true)}>Allow</button>
               <button class="small" data-testid="control-refuse" ?disabled=${this.busy} @click=${() => void this.answerControl(false)}>Refuse</button>`
        : html`<button class="small primary" data-testid="control-take-back" ?disabled=${this.busy}
                       @click=${() => void this.answerControl(false)}>Take back control</button>`}</div>
      ${this.error ? html`<div class="error" role="alert">${this.error}</div>` : nothing}
    </div>`;
  }

  private renderPace(seat: SeatState) {
    const unlocked = seat.unlockedStep;
    if (unlocked === undefined || this.current + 1 <= unlocked) return nothing;
    return html`<div class="notice" role="status" data-testid="paced">
      <div class="body">Step ${this.current + 1} is not open yet: the instructor opens the steps one by one. Read ahead, and wait for the go.</div>
    </div>`;
  }

  private renderEnding(seat: SeatState) {
    if (seat.endingAt === undefined || seat.phase === 'ended') return nothing;
    const left = seat.endingAt - this.clock.now;
    return html`<div class="notice ending" role="alert" data-testid="ending">
      <div class="body"><span class="label">The workshop is ending${left > 0 ? html` in ${formatTimeLeft(left)}` : nothing}.</span>
        Your box will be removed then: copy anything you want to keep.</div>
    </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'tl-seat-notices': TlSeatNotices }
  interface HTMLElementEventMap { 'tl-broadcast-dismiss': CustomEvent<undefined> }
}
