import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { Completion, CompletionResponse } from '../../protocol/history.js';
import { ApiRequestError, errorText, getCompletion, shareUrl } from '../api.js';
import { copyText } from '../clipboard.js';
import { formatDuration } from '../controllers/clock-controller.js';
import { buttonStyles, pageStyles } from '../components/shared-styles.js';
import type { Route } from '../routes.js';

type Shown =
  | { kind: 'loading' }
  | { kind: 'answer'; answer: CompletionResponse }
  /** The server could not be asked (offline, a server error): neither verified nor refuted. */
  | { kind: 'error'; message: string };

/**
 * /completions/<token>: a proof that someone finished a lab, for whoever they show it to. The server
 * checks the token's signature (GET /api/completions/:token) and only then are its claims shown:
 * a token that is not verified shows why and nothing it claims.
 */
@customElement('tl-completion-page')
export class TlCompletionPage extends LitElement {
  static override styles = [buttonStyles, pageStyles, css`
    .badge {
      display: inline-flex; align-items: center; gap: 0.5rem; margin: 0 0 1.25rem; padding: 0.5rem 0.875rem;
      border-radius: var(--tl-radius-sm); font-weight: 600; border: 1px solid currentColor;
    }
    .badge.verified { color: var(--tl-ok); }
    .badge.not-verified { color: var(--tl-danger); background: var(--tl-danger-bg); border-color: var(--tl-danger-border); }
    .badge .mark { font-size: 1.125rem; }
    dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.375rem 1.25rem; margin: 0 0 1rem; }
    dt { color: var(--tl-muted); }
    dd { margin: 0; }
    ol { margin: 0 0 1rem; padding-left: 1.5rem; }
    ol li { margin: 0.25rem 0; }
    .when { color: var(--tl-muted); font-variant-numeric: tabular-nums; }
    .link { display: flex; gap: 0.5rem; align-items: center; flex-wrap: wrap; font-size: 0.875rem; }
    h2 { font-size: 1.0625rem; margin: 0 0 0.5rem; }
  `];

  @property({ attribute: false }) route: Route | undefined;

  @state() private shown: Shown = { kind: 'loading' };
  @state() private copied = false;
  private loaded: string | undefined;

  private get token(): string {
    return this.route?.page === 'completion' ? this.route.token : '';
  }

  protected override willUpdate(): void {
    if (this.token === this.loaded) return;
    this.loaded = this.token;
    document.title = 'Proof of completion · termlab';
    void this.load(this.token);
  }

  private async load(token: string): Promise<void> {
    this.shown = { kind: 'loading' };
    let shown: Shown;
    try {
      shown = { kind: 'answer', answer: await getCompletion(token) };
    } catch (err) {
      // A token that is not even well formed is as unverified as a forged one.
      shown = err instanceof ApiRequestError && err.status === 400
        ? { kind: 'answer', answer: { verified: false, reason: errorText(err) } }
        : { kind: 'error', message: errorText(err) };
    }
    if (token !== this.token) return;
    this.shown = shown;
    if (shown.kind === 'answer' && shown.answer.verified) document.title = `${shown.answer.completion.title}: proof of completion · termlab`;
  }

  protected override render() {
    return html`<main class="list"><div class="list-inner">
      <div class="intro"><h1>Proof of completion</h1></div>
      ${this.renderShown(this.shown)}
    </div></main>`;
  }

  private renderShown(shown: Shown) {
    switch (shown.kind) {
      case 'loading':
        return html`<p class="muted" aria-busy="true">Checking this proof with the server…</p>`;
      case 'error':
        return html`<p class="error" role="alert" data-testid="completion-error">This proof could not be checked now (${shown.message}).
          <button class="small" @click=${() => void this.load(this.token)}>Try again</button></p>`;
      case 'answer':
        return shown.answer.verified ? this.renderVerified(shown.answer.completion, shown.answer.url) : this.renderNotVerified(shown.answer.reason);
    }
  }

  private renderNotVerified(reason: string) {
    return html`<p class="badge not-verified" role="alert" data-testid="completion-not-verified">
        <span class="mark" aria-hidden="true">✗</span>Not verified</p>
      <p data-testid="completion-reason">${reason}</p>
      <p class="muted">Nothing this link claims can be trusted.</p>`;
  }

  private renderVerified(c: Completion, url: string) {
    return html`<p class="badge verified" data-testid="completion-verified">
        <span class="mark" aria-hidden="true">✓</span>Verified: issued by this termlab server</p>
      <section class="card">
        <dl>
          <dt>Lab</dt><dd data-testid="completion-lab">${c.title}</dd>
          <dt>By</dt><dd data-testid="completion-name">${c.name || html`<span class="muted">no name given</span>`}</dd>
          <dt>Started</dt><dd>${new Date(c.startedAt).toLocaleString()}</dd>
          <dt>Finished</dt><dd>${new Date(c.finishedAt).toLocaleString()} (${formatDuration(c.finishedAt - c.startedAt)})</dd>
        </dl>
        ${this.renderSteps(c)}
        ${this.renderRecordings(c.recordings)}
      </section>
      ${this.renderLink(url)}`;
  }

  private renderSteps(c: Completion) {
    return html`<h2>Steps passed</h2>
      <ol data-testid="completion-steps">${c.steps.map((step) => html`<li data-testid="completion-step">${step.title}
        <span class="when">· ${new Date(step.passedAt).toLocaleTimeString()}, after ${formatDuration(step.passedAt - c.startedAt)}</span></li>`)}</ol>`;
  }

  private renderRecordings(shares: string[]) {
    if (shares.length === 0) return nothing;
    return html`<h2>Recordings</h2>
      <ul>${shares.map((share, i) => html`<li><a href=${shareUrl.watch(share)} data-testid="completion-recording" target="_blank" rel="noopener">Recording ${i + 1}</a></li>`)}</ul>`;
  }

  /** The link itself is long (it carries the signed proof): copied, not shown. */
  private renderLink(path: string) {
    const url = new URL(path, location.origin).href;
    return html`<p class="link">
      <button class="small" data-testid="copy-proof-link" @click=${() => void copyText(url, this.renderRoot).then((ok) => { this.copied = ok; })}>
        Copy the link to this proof</button>
      ${this.copied ? html`<span class="muted" role="status">Copied: whoever opens it sees this page, checked again by this server.</span>` : nothing}
    </p>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'tl-completion-page': TlCompletionPage }
}
