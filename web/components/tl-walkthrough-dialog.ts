import { LitElement, css, html, nothing } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { castUrl, errorText } from '../api.js';
import { loadPlayer } from '../chunks.js';
import { buttonStyles } from './shared-styles.js';

/**
 * A lab's recorded walkthrough in a modal dialog: the player with the lab's steps as chapters
 * (the recording's markers, "1. Step title" …, "Finished"); choosing a step plays from it, and the
 * step playing is highlighted. The player exists only while the dialog is open, and its chunk
 * (asciinema-player) is fetched the first time the dialog opens: the lab list does not need it.
 */
@customElement('tl-walkthrough-dialog')
export class TlWalkthroughDialog extends LitElement {
  static override styles = [
    buttonStyles,
    css`
      dialog {
        width: min(1180px, calc(100vw - 2rem));
        max-height: calc(100dvh - 2rem);
        box-sizing: border-box;
        padding: 0;
        border: 1px solid var(--tl-border-strong, #3d444d);
        border-radius: var(--tl-radius, 10px);
        background: var(--tl-bg, #0b0e13);
        color: var(--tl-text, #e6edf3);
        box-shadow: 0 16px 48px rgb(0 0 0 / 0.5);
      }
      dialog::backdrop { background: rgb(1 4 9 / 0.7); }
      .head {
        display: flex;
        align-items: center;
        gap: 1rem;
        padding: 0.75rem 1rem;
        border-bottom: 1px solid var(--tl-border, #30363d);
        background: var(--tl-surface, #161b22);
      }
      h2 {
        flex: 1 1 auto;
        margin: 0;
        font-size: 1rem;
        min-width: 0;
        overflow: hidden;
        text-overflow: ellipsis;
        white-space: nowrap;
      }
      .body { padding: 1rem; }
      tl-player { --tl-player-max-height: calc(100dvh - 13rem); }
      .hint {
        margin: 0 0 0.75rem;
        font-size: 0.8125rem;
        color: var(--tl-muted, #8b949e);
      }
    `,
  ];

  @state() private lab: { id: string; title: string } | undefined;
  /** The player's chunk could not be fetched (the dialog says so instead of showing an empty box). */
  @state() private loadError = '';

  /** Opens the dialog on a lab's walkthrough (GET /api/labs/:id/walkthrough.cast). */
  async show(lab: { id: string; title: string }): Promise<void> {
    try {
      await loadPlayer();
      this.loadError = '';
    } catch (err) {
      this.loadError = errorText(err);
    }
    this.lab = lab;
    await this.updateComplete;
    const dialog = this.renderRoot.querySelector('dialog');
    if (dialog && !dialog.open) dialog.showModal();
  }

  close(): void {
    this.renderRoot.querySelector('dialog')?.close();
  }

  protected override render() {
    const lab = this.lab;
    return html`
      <dialog data-testid="walkthrough-dialog" aria-label=${lab ? `Walkthrough: ${lab.title}` : 'Walkthrough'}
              @close=${() => { this.lab = undefined; }}>
        ${lab
          ? html`
            <div class="head">
              <h2>Walkthrough: ${lab.title}</h2>
              <button class="small" data-testid="close-walkthrough" @click=${() => this.close()}>Close</button>
            </div>
            <div class="body">
              ${this.renderPlayer(lab)}
            </div>`
          : nothing}
      </dialog>
    `;
  }

  private renderPlayer(lab: { id: string }) {
    if (this.loadError) return html`<p class="hint" role="alert">The player could not be loaded: ${this.loadError}</p>`;
    return html`
      <p class="hint">A recorded run through the lab. Pick a step to watch it.</p>
      <tl-player src=${castUrl.walkthrough(lab.id)} name="The walkthrough" autoplay></tl-player>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tl-walkthrough-dialog': TlWalkthroughDialog;
  }
}
