import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { NAME_MAX, type AttemptInfo, type HistoryResponse } from '../../protocol/history.js';
import { errorText, eraseHistory, getHistory, setName } from '../api.js';
import { formatDuration } from '../controllers/clock-controller.js';
import { buttonStyles, pageStyles } from '../components/shared-styles.js';
import { onLinkClick, paths, type Route } from '../routes.js';

/**
 * /progress, "My progress": what this browser did in each lab (GET /api/me; the learner cookie names
 * the browser), the display name proofs of completion carry, and erasing it all.
 */
@customElement('tl-progress-page')
export class TlProgressPage extends LitElement {
  static override styles = [buttonStyles, pageStyles, css`
    form.name { display: flex; gap: 0.5rem; align-items: center; flex-wrap: wrap; }
    form.name input { flex: 0 1 22rem; min-width: 0; }
    .saved { color: var(--tl-ok); font-size: 0.875rem; }
    .table { overflow-x: auto; }
    td[data-state='in-progress'] { color: var(--tl-accent); }
    td[data-state='finished'] { color: var(--tl-ok); }
    td[data-state='left'] { color: var(--tl-muted); }
    h2 { font-size: 1.0625rem; margin: 0 0 0.75rem; }
    .erase { display: flex; gap: 0.5rem 1rem; align-items: center; flex-wrap: wrap; }
  `];

  @property({ attribute: false }) route: Route | undefined;

  @state() private history: HistoryResponse | undefined;
  @state() private loadError = '';
  /** The name in the field, as typed. */
  @state() private name = '';
  @state() private nameState: 'idle' | 'saving' | 'saved' = 'idle';
  @state() private nameError = '';
  @state() private confirmingErase = false;
  @state() private erasing = false;
  @state() private eraseError = '';
  @state() private erased = false;

  override connectedCallback(): void {
    super.connectedCallback();
    document.title = 'My progress · termlab';
    void this.load();
  }

  private async load(): Promise<void> {
    this.loadError = '';
    try {
      this.show(await getHistory());
    } catch (err) {
      this.loadError = errorText(err);
    }
  }

  private show(history: HistoryResponse): void {
    this.history = history;
    this.name = history.name;
  }

  private async saveName(ev: SubmitEvent): Promise<void> {
    ev.preventDefault();
    this.nameState = 'saving';
    this.nameError = '';
    try {
      this.show(await setName(this.name.trim()));
      this.nameState = 'saved';
    } catch (err) {
      this.nameState = 'idle';
      this.nameError = `Could not save your name: ${errorText(err)}`;
    }
  }

  private async erase(): Promise<void> {
    this.erasing = true;
    this.eraseError = '';
    try {
      await eraseHistory();
      this.confirmingErase = false;
      this.erased = true;
      this.nameState = 'idle';
      this.show({ name: '', attempts: [], limits: this.history!.limits });
    } catch (err) {
      this.eraseError = `Could not erase your history: ${errorText(err)}`;
    } finally {
      this.erasing = false;
    }
  }

  protected override render() {
    const history = this.history;
    return html`<main class="list"><div class="list-inner">
      <div class="intro">
        <h1>My progress</h1>
        <p>The labs you did in this browser${history ? `, kept for ${history.limits.retentionDays} days after you last worked on them` : ''}.
          Another browser has its own.</p>
      </div>
      ${this.loadError
        ? html`<p class="error" role="alert" data-testid="progress-error">Could not load your history: ${this.loadError}
            <button class="small" @click=${() => void this.load()}>Retry</button></p>`
        : nothing}
      ${history ? html`${this.renderName()}${this.renderAttempts(history.attempts)}${this.renderErase()}`
        : this.loadError ? nothing : html`<p class="muted" aria-busy="true">Loading…</p>`}
    </div></main>`;
  }

  private renderName() {
    return html`<section class="card">
      <h2>Your name on proofs of completion</h2>
      <form class="name" @submit=${(ev: SubmitEvent) => void this.saveName(ev)}>
        <input data-testid="display-name" aria-label="Display name" maxlength=${NAME_MAX} placeholder="No name given"
               .value=${this.name} @input=${(ev: InputEvent) => { this.name = (ev.target as HTMLInputElement).value; this.nameState = 'idle'; }}>
        <button class="primary" data-testid="save-name" ?disabled=${this.nameState === 'saving'}>Save</button>
        ${this.nameState === 'saved' ? html`<span class="saved" role="status" data-testid="name-saved">Saved</span>` : nothing}
      </form>
      <p class="muted">Proofs you get from now on show it; those issued before keep the name they had.</p>
      ${this.nameError ? html`<p class="error" role="alert">${this.nameError}</p>` : nothing}
    </section>`;
  }

  private renderAttempts(attempts: AttemptInfo[]) {
    if (attempts.length === 0) {
      return html`<p class="muted" data-testid="progress-empty">${this.erased ? 'Your history was erased.' : 'You have not started a lab in this browser yet.'}
        <a href="/" @click=${(ev: MouseEvent) => onLinkClick(ev, paths.labs())}>See the labs</a></p>`;
    }
    return html`<section class="card table">
      <table>
        <thead><tr><th>Lab</th><th>State</th><th>Started</th><th>Finished</th><th>Time taken</th><th>Proof</th></tr></thead>
        <tbody>${attempts.map((a) => this.renderAttempt(a))}</tbody>
      </table>
    </section>`;
  }

  private renderAttempt(a: AttemptInfo) {
    const state = a.state === 'in-progress' ? `In progress: step ${a.resume?.step ?? a.passed + 1} of ${a.steps}`
      : a.state === 'finished' ? 'Finished' : `Left at step ${Math.min(a.passed + 1, a.steps)} of ${a.steps}`;
    const href = a.completion;
    return html`<tr data-testid="attempt" data-lab=${a.lab} data-state=${a.state}>
      <td>${a.title}</td>
      <td data-state=${a.state}>${state}</td>
      <td>${new Date(a.startedAt).toLocaleString()}</td>
      <td>${a.finishedAt ? new Date(a.finishedAt).toLocaleString() : ''}</td>
      <td>${a.finishedAt ? formatDuration(a.finishedAt - a.startedAt) : ''}</td>
      <td>${href ? html`<a href=${href} data-testid="attempt-proof" @click=${(ev: MouseEvent) => onLinkClick(ev, href)}>Proof of completion</a>` : ''}</td>
    </tr>`;
  }

  private renderErase() {
    return html`<section class="card">
      <h2>Erase my history</h2>
      <div class="erase">
        ${this.confirmingErase
          ? html`<span>Erase every attempt and your name? Your proofs of completion will no longer verify.</span>
              <button class="danger" data-testid="erase-confirm" ?disabled=${this.erasing} @click=${() => void this.erase()}>
                ${this.erasing ? html`<span class="spinner" aria-hidden="true"></span>` : nothing}Erase</button>
              <button data-testid="erase-cancel" ?disabled=${this.erasing} @click=${() => { this.confirmingErase = false; }}>Keep it</button>`
          : html`<span class="muted">Your attempts, your name and your proofs of completion, for good.</span>
              <button class="danger" data-testid="erase-history" @click=${() => { this.confirmingErase = true; this.erased = false; }}>Erase my history</button>`}
      </div>
      ${this.eraseError ? html`<p class="error" role="alert">${this.eraseError}</p>` : nothing}
    </section>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'tl-progress-page': TlProgressPage }
}
