import { LitElement, html, nothing } from 'lit';
import { customElement } from 'lit/decorators.js';
import { pageStyles } from '../components/shared-styles.js';
import { onLinkClick } from '../routes.js';
import { loadSession } from '../session-store.js';
import '../components/tl-recordings.js';

/** /#/recordings: what this browser recorded, with a way back to the running lab. */
@customElement('tl-recordings-page')
export class TlRecordingsPage extends LitElement {
  static override styles = pageStyles;

  override connectedCallback(): void {
    super.connectedCallback();
    document.title = 'Recordings · termlab';
  }

  protected override render() {
    const session = loadSession();
    return html`<main class="list"><div class="list-inner">
      <div class="intro">
        <h1>Recordings</h1>
        <p>What you recorded in labs in this browser. Play, download or share a recording, or play a .cast file from your computer.</p>
      </div>
      ${session
        ? html`<p class="muted">Your lab <strong>${session.title}</strong> is still running.
            <a href="/" data-testid="back-to-lab" @click=${(ev: MouseEvent) => onLinkClick(ev, '/')}>Back to the lab</a></p>`
        : nothing}
      <tl-recordings></tl-recordings>
    </div></main>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'tl-recordings-page': TlRecordingsPage }
}
