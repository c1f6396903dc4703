import { LitElement, css, html, nothing } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { keyed } from 'lit/directives/keyed.js';
import { deleteSession, errorText, getSession } from '../api.js';
import { clearSession, loadSession, saveSession, type StoredSession } from '../session-store.js';
import type { ConnectionStatus } from '../terminal/connection.js';
import { buttonStyles } from './shared-styles.js';
import type { TlSessionStartEvent } from './tl-lab-list.js';
import type { TlReadyEvent, TlStatusChangeEvent } from './tl-terminal.js';
import './tl-lab-list.js';
import './tl-terminal.js';

/** "1:05:09", "12:34" or "0:09". */
export function formatTimeLeft(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

/**
 * The whole page: the lab list, or the running session (header with the lab, time left and
 * "End lab", and its terminal). The active session is kept in sessionStorage, so a reload rejoins it.
 */
@customElement('tl-app')
export class TlApp extends LitElement {
  static override styles = [
    buttonStyles,
    css`
      :host {
        display: flex;
        flex-direction: column;
        height: 100%;
        min-height: 0;
      }
      header {
        flex: none;
        display: flex;
        align-items: center;
        gap: 1rem;
        padding: 0.625rem 1.25rem;
        min-height: 3.25rem;
        box-sizing: border-box;
        border-bottom: 1px solid var(--tl-border, #30363d);
        background: var(--tl-surface, #161b22);
        flex-wrap: wrap;
      }
      .brand {
        display: flex;
        align-items: center;
        gap: 0.5rem;
        font-weight: 700;
        font-size: 1.0625rem;
        letter-spacing: -0.01em;
        color: var(--tl-text, #e6edf3);
        text-decoration: none;
      }
      .brand .logo {
        font-family: var(--tl-mono);
        font-size: 0.8125rem;
        padding: 0.125rem 0.375rem;
        border-radius: 5px;
        background: var(--tl-accent, #58a6ff);
        color: #0d1117;
      }
      .lab-title {
        flex: 1 1 auto;
        min-width: 0;
        overflow: hidden;
        text-overflow: ellipsis;
        white-space: nowrap;
        color: var(--tl-text, #e6edf3);
        font-weight: 600;
        padding-left: 1rem;
        border-left: 1px solid var(--tl-border, #30363d);
      }
      .session-actions {
        margin-left: auto;
        display: flex;
        align-items: center;
        gap: 1rem;
      }
      .time {
        font-variant-numeric: tabular-nums;
        font-size: 0.875rem;
        color: var(--tl-muted, #8b949e);
        white-space: nowrap;
      }
      .time strong {
        color: var(--tl-text, #e6edf3);
        font-weight: 600;
      }
      .time.low strong { color: var(--tl-warn, #d29922); }
      .time.over strong { color: var(--tl-danger, #f85149); }
      .end-error {
        flex-basis: 100%;
        color: var(--tl-danger, #f85149);
        font-size: 0.875rem;
      }
      main {
        flex: 1 1 auto;
        min-height: 0;
        display: flex;
        flex-direction: column;
      }
      main.list {
        overflow: auto;
        padding: 2rem 1.25rem 3rem;
      }
      .list-inner {
        width: 100%;
        max-width: 1120px;
        margin: 0 auto;
      }
      .intro h1 {
        margin: 0 0 0.375rem;
        font-size: 1.5rem;
        letter-spacing: -0.02em;
      }
      .intro p {
        margin: 0 0 1.75rem;
        color: var(--tl-muted, #8b949e);
      }
      main.session {
        padding: 0.75rem;
      }
      tl-terminal {
        flex: 1 1 auto;
      }
      @media (max-width: 600px) {
        header { padding: 0.5rem 0.75rem; gap: 0.625rem; }
        .lab-title { flex-basis: 100%; order: 5; padding-left: 0; border-left: 0; }
        main.session { padding: 0.375rem; }
        main.list { padding: 1.25rem 0.75rem 2rem; }
      }
    `,
  ];

  @state() private session: StoredSession | undefined = loadSession();
  @state() private notice = '';
  @state() private status: ConnectionStatus | undefined;
  @state() private now = Date.now();
  @state() private ending = false;
  @state() private endError = '';

  private clock: ReturnType<typeof setInterval> | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    this.clock = setInterval(() => { if (this.session) this.now = Date.now(); }, 1000);
    if (this.session) void this.checkRestoredSession(this.session);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearInterval(this.clock);
  }

  /** After a reload: a session that is gone shows the list instead of a terminal that cannot connect. */
  private async checkRestoredSession(restored: StoredSession): Promise<void> {
    try {
      const info = await getSession(restored.id, restored.token);
      if (this.session !== restored) return;
      if (!info) {
        this.leaveSession('Your previous lab session has ended. Start a lab to get a new one.');
      } else if (info.expiresAt !== restored.expiresAt) {
        this.session = { ...restored, expiresAt: info.expiresAt };
        saveSession(this.session);
      }
    } catch {
      // Server unreachable: the terminal keeps trying to reconnect and says so.
    }
  }

  private onSessionStart(ev: TlSessionStartEvent): void {
    const { session, lab } = ev.detail;
    this.session = { id: session.id, token: session.token, lab: lab.id, title: lab.title, expiresAt: session.expiresAt };
    saveSession(this.session);
    this.notice = '';
    this.status = undefined;
    this.endError = '';
    this.now = Date.now();
  }

  private onStatusChange(ev: TlStatusChangeEvent): void {
    this.status = ev.detail;
    // The session is over: a reload should show the list, not try to rejoin.
    if (ev.detail.state === 'ended' && ev.detail.sessionGone) clearSession();
  }

  private onReady(ev: TlReadyEvent): void {
    if (this.session && this.session.expiresAt !== ev.detail.expiresAt) {
      this.session = { ...this.session, expiresAt: ev.detail.expiresAt };
      saveSession(this.session);
    }
  }

  private async endLab(): Promise<void> {
    const session = this.session;
    if (!session || this.ending) return;
    this.ending = true;
    this.endError = '';
    try {
      await deleteSession(session.id, session.token);
      if (this.session === session) this.leaveSession();
    } catch (err) {
      this.endError = `Could not end the lab: ${errorText(err)}`;
    } finally {
      this.ending = false;
    }
  }

  private leaveSession(notice = ''): void {
    clearSession();
    this.session = undefined;
    this.status = undefined;
    this.endError = '';
    this.notice = notice;
  }

  protected override updated(): void {
    document.title = this.session ? `${this.session.title} · termlab` : 'termlab';
  }

  protected override render() {
    return this.session ? this.renderSession(this.session) : this.renderList();
  }

  private renderBrand() {
    return html`<span class="brand"><span class="logo" aria-hidden="true">&gt;_</span>termlab</span>`;
  }

  private renderList() {
    return html`
      <header>${this.renderBrand()}</header>
      <main class="list">
        <div class="list-inner">
          <div class="intro">
            <h1>Labs</h1>
            <p>Pick a lab to get a fresh sandbox with a terminal in your browser.</p>
          </div>
          <tl-lab-list .notice=${this.notice} @tl-session-start=${this.onSessionStart}></tl-lab-list>
        </div>
      </main>
    `;
  }

  private renderSession(session: StoredSession) {
    const left = session.expiresAt - this.now;
    const ended = this.status?.state === 'ended' && this.status.sessionGone;
    const timeClass = left <= 0 ? 'over' : left < 5 * 60_000 ? 'low' : '';
    return html`
      <header>
        ${this.renderBrand()}
        <span class="lab-title" title=${session.title}>${session.title}</span>
        <div class="session-actions">
          ${ended
            ? nothing
            : html`<span class="time ${timeClass}" data-testid="time-left">
                ${left > 0 ? html`<strong>${formatTimeLeft(left)}</strong> left` : html`<strong>Time is up</strong>`}
              </span>`}
          <button class="danger" data-testid="end-lab" ?disabled=${this.ending} @click=${this.endLab}>
            ${this.ending ? html`<span class="spinner" aria-hidden="true"></span>Ending…` : ended ? 'Close lab' : 'End lab'}
          </button>
        </div>
        ${this.endError ? html`<div class="end-error" role="alert">${this.endError}</div>` : nothing}
      </header>
      <main class="session">
        ${keyed(session.id, html`
          <tl-terminal .token=${session.token}
                       @tl-status-change=${this.onStatusChange}
                       @tl-ready=${this.onReady}
                       @tl-back=${() => this.leaveSession()}></tl-terminal>`)}
      </main>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tl-app': TlApp;
  }
}
