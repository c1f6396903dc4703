import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { ReplayState } from '../../protocol/history.js';
import { bannerStyles, buttonStyles } from './shared-styles.js';

/**
 * A continued lab's fresh box being brought to where the learner left off (LabProgress.replay): which
 * step is being replayed, or the step that could not be, with "Start over". Renders nothing otherwise.
 * @fires tl-start-over - `CustomEvent<undefined>`: end this box and begin the lab again from step 1.
 */
@customElement('tl-replay-status')
export class TlReplayStatus extends LitElement {
  static override styles = [buttonStyles, bannerStyles, css`
    :host { display: block; }
    .banner { border-color: var(--tl-accent); }
    .banner.failed { border-color: var(--tl-warn); }
  `];

  @property({ attribute: false }) replay: ReplayState | undefined;
  /** Start over is under way. */
  @property({ type: Boolean }) busy = false;
  /** Why starting over failed. */
  @property() error = '';

  protected override render() {
    const replay = this.replay;
    if (replay?.state === 'running') {
      return html`<div class="banner" role="status" data-testid="replay-status">
        <span class="spinner" aria-hidden="true"></span>
        <span class="text">Bringing your box to where you left off: step ${replay.step} of ${replay.of} (${replay.title})…</span>
      </div>`;
    }
    if (replay?.state === 'failed') return this.renderFailed(replay);
    return nothing;
  }

  private renderFailed(replay: Extract<ReplayState, { state: 'failed' }>) {
    return html`<div class="banner failed" role="alert" data-testid="replay-failed">
      <span class="text">Your box could not be brought to where you left off: step ${replay.step} (${replay.title}) failed:
        ${replay.message}. You are at that step: do it yourself, or start over on a fresh box.</span>
      <button class="small" data-testid="start-over" ?disabled=${this.busy} aria-busy=${this.busy ? 'true' : 'false'}
              @click=${() => this.dispatchEvent(new CustomEvent('tl-start-over', { bubbles: true, composed: true }))}>
        ${this.busy ? html`<span class="spinner" aria-hidden="true"></span>Starting over…` : 'Start over'}</button>
      ${this.error ? html`<span class="error">${this.error}</span>` : nothing}
    </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'tl-replay-status': TlReplayStatus }
  interface HTMLElementEventMap { 'tl-start-over': CustomEvent<undefined> }
}
