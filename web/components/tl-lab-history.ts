import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { AttemptInfo } from '../../protocol/history.js';
import { describeAttempt, latestAttempt, latestCompletion } from '../lab/attempts.js';
import { onLinkClick } from '../routes.js';

/**
 * Where this browser stands in one lab, on its card in the lab list: not started, in progress (and
 * why it cannot be continued, when it cannot), or finished, with the link to the proof of completion.
 * Display only: the card's buttons start and continue the lab.
 */
@customElement('tl-lab-history')
export class TlLabHistory extends LitElement {
  static override styles = css`
    :host { display: block; font-size: 0.875rem; }
    p { margin: 0; line-height: 1.4; }
    .state { color: var(--tl-muted); }
    [data-state='in-progress'] { color: var(--tl-accent); }
    [data-state='finished'] { color: var(--tl-ok); }
    .problem { margin-top: 0.25rem; color: var(--tl-warn); }
    a { color: var(--tl-accent); }
  `;

  /** The lab's id. */
  @property() lab = '';
  /** This browser's attempts, newest first (GET /api/me); undefined: not known (the list still works). */
  @property({ attribute: false }) attempts: readonly AttemptInfo[] | undefined;
  /** For "5 min ago". */
  @property({ type: Number }) now = Date.now();

  protected override render() {
    if (!this.attempts) return nothing;
    const attempt = latestAttempt(this.attempts, this.lab);
    const state = attempt?.state ?? 'not-started';
    return html`<p class="state" data-testid="history-${this.lab}" data-state=${state}>
        ${attempt ? describeAttempt(attempt, this.now) : 'Not started'}${this.renderProof(attempt)}
      </p>
      ${attempt?.resume?.problem
        ? html`<p class="problem" role="note" data-testid="resume-problem-${this.lab}">
            It cannot be continued: ${attempt.resume.problem}. Start over to do it again.</p>`
        : nothing}`;
  }

  /** The proof of the latest finish: this attempt's, or an earlier one's while the lab is being done again. */
  private renderProof(attempt: AttemptInfo | undefined) {
    const finished = latestCompletion(this.attempts ?? [], this.lab);
    const href = finished?.completion;
    if (!href) return nothing;
    const label = finished === attempt ? 'Proof of completion' : 'Proof of an earlier finish';
    return html` · <a href=${href} data-testid="proof-${this.lab}" @click=${(ev: MouseEvent) => onLinkClick(ev, href)}>${label}</a>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'tl-lab-history': TlLabHistory }
}
