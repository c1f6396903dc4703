import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { LabSummary, SessionInfo } from '../../protocol/api.js';
import type { AttemptInfo } from '../../protocol/history.js';
import { describeProgress, notReadyMessage } from '../../protocol/preparation.js';
import { ApiRequestError, createSession, errorText, getHistory, listLabs } from '../api.js';
import { loadLabPage } from '../chunks.js';
import { ClockController } from '../controllers/clock-controller.js';
import { ProfileStatusController } from '../controllers/profile-status-controller.js';
import { latestAttempt, resumeStep } from '../lab/attempts.js';
import { buttonStyles } from './shared-styles.js';
import type { TlWalkthroughDialog } from './tl-walkthrough-dialog.js';
import './tl-lab-history.js';
import './tl-walkthrough-dialog.js';

export interface SessionStartDetail {
  session: SessionInfo;
  lab: LabSummary;
}
export type TlSessionStartEvent = CustomEvent<SessionStartDetail>;

const PROFILE_LABEL: Record<string, string> = { shell: 'Linux shell', docker: 'Docker', kubernetes: 'Kubernetes' };

/**
 * The labs from GET /api/labs as cards, each with a Start button that creates a session
 * (POST /api/sessions; starting the box can take a few seconds), and "Watch the walkthrough" for
 * labs that ship a recorded one. A lab whose sandbox profile is still being prepared (a first run
 * builds the kubernetes image after the server started) says so on its card, with the progress.
 *
 * Each card also says where this browser stands in the lab (GET /api/me, fetched with the labs; the
 * list works without it). An unfinished attempt offers "Continue from step N" (POST /api/sessions
 * with `resume`: a fresh box brought to that step, or its box still running) and "Start over".
 *
 * @fires tl-session-start - `CustomEvent<{session, lab}>` once a session was created for a lab.
 */
@customElement('tl-lab-list')
export class TlLabList extends LitElement {
  static override styles = [
    buttonStyles,
    css`
      :host {
        display: block;
      }
      .notice, .error {
        margin: 0 0 1.25rem;
        padding: 0.75rem 1rem;
        border-radius: var(--tl-radius-sm, 6px);
        border: 1px solid var(--tl-border, #30363d);
        background: var(--tl-surface, #161b22);
        display: flex;
        align-items: center;
        gap: 1rem;
        flex-wrap: wrap;
      }
      .error {
        border-color: var(--tl-danger-border, #8e1519);
        background: var(--tl-danger-bg, #3d1d20);
      }
      .grid {
        display: grid;
        grid-template-columns: repeat(auto-fill, minmax(min(100%, 300px), 1fr));
        gap: 1rem;
        list-style: none;
        margin: 0;
        padding: 0;
      }
      .card {
        display: flex;
        flex-direction: column;
        gap: 0.75rem;
        padding: 1.25rem;
        border-radius: var(--tl-radius, 10px);
        border: 1px solid var(--tl-border, #30363d);
        background: var(--tl-surface, #161b22);
        transition: border-color 120ms;
      }
      .card:hover {
        border-color: var(--tl-border-strong, #3d444d);
      }
      h2 {
        margin: 0;
        font-size: 1.0625rem;
        line-height: 1.3;
      }
      p {
        margin: 0;
        color: var(--tl-muted, #8b949e);
        line-height: 1.5;
        flex: 1 1 auto;
      }
      .meta {
        display: flex;
        flex-wrap: wrap;
        gap: 0.375rem;
        margin: 0;
        padding: 0;
        list-style: none;
      }
      .meta li {
        font-size: 0.75rem;
        padding: 0.2rem 0.5rem;
        border-radius: 999px;
        background: var(--tl-surface-2, #21262d);
        color: var(--tl-muted, #8b949e);
        border: 1px solid var(--tl-border, #30363d);
      }
      .meta li.profile {
        color: var(--tl-accent, #58a6ff);
        border-color: color-mix(in srgb, var(--tl-accent, #58a6ff) 40%, transparent);
      }
      .actions {
        display: flex;
        align-items: center;
        gap: 0.75rem;
        flex-wrap: wrap;
      }
      .hint {
        font-size: 0.8125rem;
        color: var(--tl-muted, #8b949e);
      }
      .card .error {
        margin: 0;
        font-size: 0.875rem;
      }
      .empty {
        color: var(--tl-muted, #8b949e);
      }
      .preparing {
        display: flex;
        align-items: center;
        gap: 0.5rem;
        font-size: 0.875rem;
        color: var(--tl-muted, #8b949e);
      }
    `,
  ];

  /** A message shown above the list, e.g. that the previous session has ended. */
  @property() notice = '';
  /**
   * A lab to start as soon as the list has loaded, as if its Start were pressed: a `/?start=<lab>`
   * link (the one `npm run labs -- dev` prints). Read once.
   */
  @property() autostart = '';

  @state() private labs: LabSummary[] | undefined;
  /** This browser's attempts, newest first; undefined when GET /api/me failed (the cards then say nothing of it). */
  @state() private attempts: AttemptInfo[] | undefined;
  @state() private loadError = '';
  /** Id of the lab whose box is starting. */
  @state() private starting: string | undefined;
  /** The start under way continues the unfinished attempt. */
  @state() private resuming = false;
  @state() private startError: { lab: string; message: string } | undefined;

  private loading: AbortController | undefined;
  private readonly profiles = new ProfileStatusController(this);
  /** "5 min ago" on the cards moves on once a minute. */
  private readonly clock = new ClockController(this, 60_000);

  override connectedCallback(): void {
    super.connectedCallback();
    if (!this.labs) void this.load();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.loading?.abort();
    this.loading = undefined;
  }

  /** Fetches the lab list again. */
  async load(): Promise<void> {
    this.loading?.abort();
    const loading = new AbortController();
    this.loading = loading;
    this.loadError = '';
    try {
      // Together, so a card does not offer Start and then, a moment later, Continue; the history is not needed to start a lab.
      const [{ labs }, history] = await Promise.all([
        listLabs(loading.signal),
        getHistory(loading.signal).catch((err: unknown) => {
          if (!loading.signal.aborted) console.warn('termlab: cannot load your history:', errorText(err));
          return undefined;
        }),
      ]);
      this.labs = labs;
      this.attempts = history?.attempts;
      const wanted = this.autostart && labs.find((l) => l.id === this.autostart);
      this.autostart = '';
      if (wanted) void this.start(wanted);
    } catch (err) {
      if (loading.signal.aborted) return;
      this.loadError = errorText(err);
    } finally {
      if (this.loading === loading) this.loading = undefined;
    }
  }

  /** Start (a new attempt: "Start", "Start over", "Start again") or, with `resume`, continue the unfinished one. */
  private async start(lab: LabSummary, resume = false): Promise<void> {
    if (this.starting) return;
    this.starting = lab.id;
    this.resuming = resume;
    this.startError = undefined;
    // The lab page's code (xterm.js, the guide) comes while the box starts, not after it.
    void loadLabPage().catch(() => { /* tl-app says so if it still fails when the page is shown */ });
    try {
      const session = await createSession(lab.id, { resume });
      this.dispatchEvent(new CustomEvent<SessionStartDetail>('tl-session-start', {
        detail: { session, lab }, bubbles: true, composed: true,
      }));
    } catch (err) {
      this.startError = { lab: lab.id, message: errorText(err) };
      // Refused because its sandbox is not ready: the card shows the progress from now on.
      if (err instanceof ApiRequestError && (err.code === 'preparing' || err.code === 'preparation-failed')) this.profiles.refresh();
      // The attempt cannot be continued after all (the lab changed...): the card learns why and offers to start over.
      if (err instanceof ApiRequestError && (err.code === 'nothing-to-resume' || err.code === 'cannot-resume')) void this.reloadHistory();
    } finally {
      this.starting = undefined;
      this.resuming = false;
    }
  }

  private async reloadHistory(): Promise<void> {
    try {
      this.attempts = (await getHistory()).attempts;
    } catch { /* the card keeps what it said */ }
  }

  protected override render() {
    return html`
      ${this.notice ? html`<div class="notice" role="status" data-testid="lab-notice">${this.notice}</div>` : nothing}
      ${this.loadError
        ? html`<div class="error" role="alert" data-testid="labs-error">
            <span>Could not load the labs: ${this.loadError}</span>
            <button class="small" @click=${() => this.load()}>Retry</button>
          </div>`
        : nothing}
      ${this.labs === undefined
        ? (this.loadError ? nothing : html`<p class="hint" aria-busy="true"><span class="spinner"></span> Loading labs…</p>`)
        : this.labs.length === 0
          ? html`<p class="empty">No labs are installed on this server.</p>`
          : html`<ul class="grid">${this.labs.map((lab) => this.renderLab(lab))}</ul>`}
      <tl-walkthrough-dialog></tl-walkthrough-dialog>
    `;
  }

  private renderLab(lab: LabSummary) {
    const busy = this.starting === lab.id;
    const notReady = this.profiles.status(lab.profile);
    const error = this.startError?.lab === lab.id && !notReady ? this.startError.message : '';
    return html`
      <li class="card" data-testid="lab-${lab.id}">
        <h2>${lab.title}</h2>
        <p>${lab.description}</p>
        <ul class="meta" aria-label="Details">
          <li class="profile">${PROFILE_LABEL[lab.profile] ?? lab.profile}</li>
          ${lab.durationMinutes ? html`<li>${lab.durationMinutes} min</li>` : nothing}
          ${lab.difficulty ? html`<li>${lab.difficulty}</li>` : nothing}
          ${lab.tags.map((tag) => html`<li>${tag}</li>`)}
        </ul>
        <tl-lab-history .lab=${lab.id} .attempts=${this.attempts} .now=${this.clock.now}></tl-lab-history>
        ${error ? html`<div class="error" role="alert" data-testid="start-error">${error}</div>` : nothing}
        ${this.renderNotReady(lab)}
        <div class="actions">
          ${this.renderStart(lab)}
          ${busy ? html`<span class="hint">${this.resuming ? 'Taking you back to where you left off…' : 'Preparing your sandbox…'}</span>` : nothing}
          ${lab.walkthrough && !busy
            ? html`<button class="small" data-testid="watch-walkthrough" title="Watch a recorded run through this lab"
                           @click=${() => void this.renderRoot.querySelector<TlWalkthroughDialog>('tl-walkthrough-dialog')?.show(lab)}>
                ▶ Watch the walkthrough
              </button>`
            : nothing}
        </div>
      </li>
    `;
  }

  /**
   * Start, or for an unfinished attempt that can be continued "Continue from step N" first and
   * "Start over" beside it (`start-<lab>` is always the plain start: a new attempt).
   */
  private renderStart(lab: LabSummary) {
    const attempt = this.attempts && latestAttempt(this.attempts, lab.id);
    const resumable = attempt?.state === 'in-progress' && attempt.resume !== undefined && attempt.resume.problem === undefined;
    const start = this.renderStartButton(lab, attempt, resumable);
    return resumable ? html`${this.renderContinueButton(lab, attempt!)}${start}` : start;
  }

  private renderStartButton(lab: LabSummary, attempt: AttemptInfo | undefined, secondary: boolean) {
    const busy = this.starting === lab.id && !this.resuming;
    const notReady = this.profiles.status(lab.profile) !== undefined;
    const label = notReady ? 'Not ready yet'
      : attempt?.state === 'in-progress' ? 'Start over' : attempt?.state === 'finished' ? 'Start again' : 'Start';
    return html`<button class=${secondary ? '' : 'primary'} data-testid="start-${lab.id}" aria-busy=${busy ? 'true' : 'false'}
        ?disabled=${this.starting !== undefined || notReady} @click=${() => this.start(lab)}
        title=${attempt?.state === 'in-progress' ? 'Begin this lab again from step 1 on a fresh box' : nothing}>
      ${busy ? html`<span class="spinner" aria-hidden="true"></span>Starting…` : label}</button>`;
  }

  /** A box still running is taken back as it is; otherwise a fresh one is brought to where the learner left off. */
  private renderContinueButton(lab: LabSummary, attempt: AttemptInfo) {
    const busy = this.starting === lab.id && this.resuming;
    const notReady = this.profiles.status(lab.profile) !== undefined;
    const label = notReady ? 'Not ready yet' : attempt.live ? 'Continue' : `Continue from step ${resumeStep(attempt)}`;
    return html`<button class="primary" data-testid="continue-${lab.id}" aria-busy=${busy ? 'true' : 'false'}
        ?disabled=${this.starting !== undefined || notReady} @click=${() => this.start(lab, true)}
        title=${attempt.live ? 'Your box is still running: back to it as you left it' : 'A fresh box, brought to where you left off'}>
      ${busy ? html`<span class="spinner" aria-hidden="true"></span>Continuing…` : label}</button>`;
  }

  /** The lab's sandbox is still being prepared, or preparing it failed: what, how far, what to do. */
  private renderNotReady(lab: LabSummary) {
    const status = this.profiles.status(lab.profile);
    if (!status) return nothing;
    if (status.state === 'failed') {
      return html`<div class="error" role="alert" data-testid="profile-status">${notReadyMessage(lab.profile, status)}</div>`;
    }
    return html`<div class="preparing" role="status" data-testid="profile-status">
      <span class="spinner" aria-hidden="true"></span>
      <span>Preparing: ${describeProgress(status)}. Other labs can start meanwhile.</span>
    </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tl-lab-list': TlLabList;
  }
  interface HTMLElementEventMap {
    'tl-session-start': TlSessionStartEvent;
  }
}
