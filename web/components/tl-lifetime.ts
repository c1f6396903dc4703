import { LitElement, css, html, nothing, type PropertyValues } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { ExtendResponse, LifetimeMessage } from '../../protocol/history.js';
import { ApiRequestError, errorText, extendSession } from '../api.js';
import { ClockController, formatDuration, formatTimeLeft } from '../controllers/clock-controller.js';
import { warnWithinMs } from '../lab/lifetime.js';
import { bannerStyles, buttonStyles } from './shared-styles.js';

/**
 * The warning before a running lab's box is removed at the end of its lifetime (the session
 * channel's `lifetime` message), with "Extend by N min" while extensions are left
 * (POST /api/sessions/:id/extend). Renders nothing until the time left is short.
 * @fires tl-lifetime-change - `CustomEvent<ExtendResponse>`: the lab was extended (the channel says so too).
 */
@customElement('tl-lifetime')
export class TlLifetime extends LitElement {
  static override styles = [buttonStyles, bannerStyles, css`
    :host { display: block; }
    .banner { border-color: var(--tl-warn); }
    .muted { color: var(--tl-muted); font-size: 0.875rem; }
  `];

  @property({ attribute: false }) lifetime: LifetimeMessage | undefined;
  /** Session id and token (Bearer), to extend it. */
  @property() session = '';
  @property() token = '';
  /** Each second re-renders this element only (the lab page around it, guide and terminals, does not tick). */
  private readonly clock = new ClockController(this);

  @state() private busy = false;
  @state() private error = '';

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('session')) this.error = '';
  }

  private async extend(): Promise<void> {
    if (this.busy) return;
    const session = this.session;
    this.busy = true;
    this.error = '';
    try {
      const lifetime = await extendSession(session, this.token);
      if (session !== this.session) return;
      this.dispatchEvent(new CustomEvent<ExtendResponse>('tl-lifetime-change', { detail: lifetime, bubbles: true, composed: true }));
    } catch (err) {
      if (session !== this.session) return;
      this.error = err instanceof ApiRequestError && err.code === 'no-extensions'
        ? 'This lab cannot be extended any more.' : `Could not extend the lab: ${errorText(err)}`;
    } finally {
      this.busy = false;
    }
  }

  protected override render() {
    const lifetime = this.lifetime;
    if (!lifetime) return nothing;
    const left = lifetime.expiresAt - this.clock.now;
    if (left <= 0 || left >= warnWithinMs(lifetime.expiresAt - lifetime.createdAt)) return nothing;
    return html`<div class="banner" role="alert" data-testid="lifetime-warning">
      <span class="text">This lab ends in <strong>${formatTimeLeft(left)}</strong> and its box is removed.
        <span class="muted">Your progress is kept: you can continue later from the lab list.</span></span>
      ${lifetime.extensionsLeft > 0 ? this.renderExtend(lifetime) : html`<span class="muted" data-testid="no-extensions">It cannot be extended any more.</span>`}
      ${this.error ? html`<span class="error">${this.error}</span>` : nothing}
    </div>`;
  }

  private renderExtend(lifetime: LifetimeMessage) {
    const more = lifetime.extensionsLeft;
    return html`<button class="small primary" data-testid="extend-lab" ?disabled=${this.busy} aria-busy=${this.busy ? 'true' : 'false'}
        title="${more} extension${more === 1 ? '' : 's'} left" @click=${() => void this.extend()}>
      ${this.busy ? html`<span class="spinner" aria-hidden="true"></span>` : nothing}Extend by ${formatDuration(lifetime.extendMs)}</button>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'tl-lifetime': TlLifetime }
  interface HTMLElementEventMap { 'tl-lifetime-change': CustomEvent<ExtendResponse> }
}
