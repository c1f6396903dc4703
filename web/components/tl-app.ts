import { LitElement, css, html, nothing } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { keyed } from 'lit/directives/keyed.js';
import { repeat } from 'lit/directives/repeat.js';
import type { LabContent, LabProgress, LabTerminalInfo } from '../../protocol/api.js';
import { ApiRequestError, deleteSession, errorText, getLab, getSession, listLabs } from '../api.js';
import { typeCommands } from '../lab/typing.js';
import { clearSession, loadSession, saveSession, type StoredSession } from '../session-store.js';
import type { ConnectionStatus } from '../terminal/connection.js';
import { buttonStyles } from './shared-styles.js';
import type { TlCheckResultEvent, TlTypeInputEvent } from './tl-guide.js';
import type { TlSessionStartEvent } from './tl-lab-list.js';
import type { TlRecordingsChangeEvent } from './tl-record-toggle.js';
import type { TlLabProgressEvent, TlReadyEvent, TlStatusChangeEvent, TlTerminal } from './tl-terminal.js';
import { playbackFromQuery } from './tl-watch.js';
import './tl-guide.js';
import './tl-lab-list.js';
import './tl-record-toggle.js';
import './tl-recordings.js';
import './tl-terminal.js';
import './tl-watch.js';

/** "1:05:09", "12:34" or "0:09". */
export function formatTimeLeft(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

/** The guide's share of the width, in percent: default, limits, and where the person's choice is kept. */
const GUIDE_WIDTH = { initial: 38, min: 24, max: 62, key: 'termlab.guideWidth' };

function loadGuideWidth(): number {
  try {
    const value = Number(localStorage.getItem(GUIDE_WIDTH.key));
    if (value >= GUIDE_WIDTH.min && value <= GUIDE_WIDTH.max) return value;
  } catch { /* storage disabled */ }
  return GUIDE_WIDTH.initial;
}

type LabState = 'loading' | 'ready' | 'error' | 'none';

/**
 * Which page the address names: a shared recording (/watch/<share>, /embed/<share>; the server
 * serves this app there), or the app, showing the Recordings view (#/recordings) or the labs
 * (the list, or the running session).
 */
export type Route =
  | { page: 'watch' | 'embed'; share: string }
  | { page: 'recordings' }
  | { page: 'labs' };

export const RECORDINGS_HREF = '/#/recordings';

export function routeOf(loc: { pathname: string; hash: string }): Route {
  const shared = /^\/(watch|embed)\/([^/]+)\/?$/.exec(loc.pathname);
  if (shared) {
    try {
      return { page: shared[1] as 'watch' | 'embed', share: decodeURIComponent(shared[2]!) };
    } catch { /* a malformed escape: not a share id */ }
  }
  return loc.hash === '#/recordings' ? { page: 'recordings' } : { page: 'labs' };
}

/**
 * The whole page: the lab list, or the running session (header with the lab, Record, time left and
 * "End lab"; the lab guide on the left, the terminals on the right, in tabs when there are several).
 * The active session is kept in sessionStorage, so a reload rejoins it; the guide's content is
 * fetched again and the first `lab` message restores the progress.
 * Also the Recordings view (#/recordings), and a shared recording's pages (/watch/…, /embed/…).
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
      a.brand:focus-visible, nav a:focus-visible {
        outline: 2px solid var(--tl-accent, #58a6ff);
        outline-offset: 2px;
        border-radius: 4px;
      }
      nav.links {
        display: flex;
        gap: 0.25rem;
      }
      nav.links a {
        padding: 0.375rem 0.625rem;
        border-radius: var(--tl-radius-sm, 6px);
        font-size: 0.875rem;
        font-weight: 500;
        color: var(--tl-muted, #8b949e);
        text-decoration: none;
      }
      nav.links a:hover { color: var(--tl-text, #e6edf3); background: var(--tl-surface-2, #21262d); }
      nav.links a[aria-current='page'] { color: var(--tl-text, #e6edf3); background: var(--tl-surface-2, #21262d); }
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
        justify-content: flex-end;
        flex-wrap: wrap;
        gap: 0.5rem 1rem;
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
        flex-direction: row;
        padding: 0.75rem;
      }
      main.session.dragging {
        cursor: col-resize;
        user-select: none;
      }
      /* The placeholder and the guide take exactly the same room: the terminal does not resize when one replaces the other. */
      tl-guide, .guide-placeholder {
        flex: 0 0 var(--guide-width, 38%);
        min-width: 260px;
        box-sizing: border-box;
      }
      .guide-placeholder {
        display: flex;
        flex-direction: column;
        align-items: flex-start;
        gap: 0.75rem;
        box-sizing: border-box;
        padding: 1rem;
        font-size: 0.875rem;
        color: var(--tl-muted, #8b949e);
        background: var(--tl-surface, #161b22);
        border: 1px solid var(--tl-border, #30363d);
        border-radius: var(--tl-radius, 10px);
      }
      .guide-placeholder .loading {
        display: inline-flex;
        align-items: center;
        gap: 0.5rem;
      }
      .splitter {
        flex: none;
        width: 0.75rem;
        cursor: col-resize;
        position: relative;
        touch-action: none;
      }
      .splitter::after {
        content: '';
        position: absolute;
        top: 0;
        bottom: 0;
        left: calc(50% - 1px);
        width: 2px;
        border-radius: 1px;
        background: transparent;
        transition: background-color 120ms;
      }
      .splitter:hover::after, .splitter:focus-visible::after, .dragging .splitter::after {
        background: var(--tl-accent, #58a6ff);
      }
      .splitter:focus-visible { outline: none; }
      .terminals {
        flex: 1 1 auto;
        min-width: 0;
        min-height: 0;
        display: flex;
        flex-direction: column;
      }
      .tabs {
        flex: none;
        display: flex;
        gap: 0.25rem;
        overflow-x: auto;
        margin-bottom: -1px;
        position: relative;
        z-index: 1;
      }
      .tab {
        gap: 0.5rem;
        min-height: 2.125rem;
        padding: 0 0.875rem;
        border-radius: var(--tl-radius-sm, 6px) var(--tl-radius-sm, 6px) 0 0;
        border-color: transparent;
        border-bottom: 0;
        background: none;
        color: var(--tl-muted, #8b949e);
        font-weight: 500;
      }
      .tab:hover:not(:disabled) {
        background: var(--tl-surface, #161b22);
        border-color: transparent;
        color: var(--tl-text, #e6edf3);
      }
      .tab[aria-selected='true'] {
        background: var(--tl-term-bg, #0d1117);
        border-color: var(--tl-border, #30363d);
        color: var(--tl-text, #e6edf3);
        font-weight: 600;
      }
      .tab .dot {
        width: 7px;
        height: 7px;
        border-radius: 50%;
        background: var(--tl-muted, #8b949e);
      }
      .tab .dot[data-state='connected'] { background: var(--tl-ok, #3fb950); }
      .tab .dot[data-state='connecting'], .tab .dot[data-state='reconnecting'] { background: var(--tl-warn, #d29922); }
      .tab .dot[data-state='ended'] { background: var(--tl-danger, #f85149); }
      .tab .rec {
        font-size: 0.6875rem;
        font-weight: 700;
        letter-spacing: 0.04em;
        color: var(--tl-danger, #f85149);
      }
      .back-note {
        margin: 0 0 1.25rem;
        font-size: 0.875rem;
        color: var(--tl-muted, #8b949e);
      }
      .back-note a, .intro a { color: var(--tl-accent, #58a6ff); }
      .stack {
        flex: 1 1 auto;
        min-height: 0;
        position: relative;
      }
      /* Every terminal stays connected and sized; the ones in other tabs are hidden by tl-terminal. */
      .stack tl-terminal {
        position: absolute;
        inset: 0;
      }
      .tabs + .stack tl-terminal {
        border-top-left-radius: 0;
      }
      @media (max-width: 720px) {
        main.session { flex-direction: column; gap: 0.5rem; }
        tl-guide, .guide-placeholder { flex: 0 0 50%; min-width: 0; min-height: 0; }
        .splitter { display: none; }
        .terminals { min-height: 200px; }
      }
      @media (max-width: 600px) {
        header { padding: 0.5rem 0.75rem; gap: 0.625rem; }
        .lab-title { flex-basis: 100%; order: 5; padding-left: 0; border-left: 0; }
        .session-actions nav.links { display: none; }
        main.session { padding: 0.375rem; }
        main.list { padding: 1.25rem 0.75rem 2rem; }
      }
    `,
  ];

  @state() private route: Route = routeOf(location);
  @state() private session: StoredSession | undefined = this.route.page === 'watch' || this.route.page === 'embed' ? undefined : loadSession();
  @state() private notice = '';
  /** Connection status of each terminal, by id. */
  @state() private statuses: ReadonlyMap<string, ConnectionStatus> = new Map();
  @state() private now = Date.now();
  @state() private ending = false;
  @state() private endError = '';
  @state() private lab: LabContent | undefined;
  @state() private labState: LabState = 'loading';
  @state() private progress: LabProgress | undefined;
  /** The terminal tab on show. */
  @state() private activeTerminal: string | undefined;
  @state() private guideWidth = loadGuideWidth();
  @state() private dragging = false;
  /** The running lab ships a walkthrough (LabSummary.walkthrough; the guide offers it). */
  @state() private walkthrough = false;
  /** Terminals being recorded (their tabs say so). */
  @state() private recorded: ReadonlySet<string> = new Set();

  private clock: ReturnType<typeof setInterval> | undefined;
  /** When the latest `lab` message arrived (a Check answer older than it is stale). */
  private lastLabMessageAt = 0;

  private readonly onLocationChange = (): void => {
    const next = routeOf(location);
    if (JSON.stringify(next) !== JSON.stringify(this.route)) this.route = next;
  };

  override connectedCallback(): void {
    super.connectedCallback();
    this.clock = setInterval(() => { if (this.session) this.now = Date.now(); }, 1000);
    window.addEventListener('hashchange', this.onLocationChange);
    window.addEventListener('popstate', this.onLocationChange);
    if (this.session) {
      void this.checkRestoredSession(this.session);
      void this.loadLab(this.session);
    }
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearInterval(this.clock);
    window.removeEventListener('hashchange', this.onLocationChange);
    window.removeEventListener('popstate', this.onLocationChange);
  }

  /** Goes to the labs (or the running lab) or to the Recordings view, as a new history entry. */
  private navigate(ev: MouseEvent, page: 'labs' | 'recordings'): void {
    if (ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) return; // a new tab: the browser's
    ev.preventDefault();
    history.pushState(null, '', page === 'recordings' ? RECORDINGS_HREF : '/');
    this.route = { page };
  }

  /** After a reload: a session that is gone shows the list instead of a terminal that cannot connect. */
  private async checkRestoredSession(restored: StoredSession): Promise<void> {
    try {
      const info = await getSession(restored.id, restored.token);
      if (this.session !== restored) return;
      if (!info) {
        this.leaveSession('Your previous lab session has ended. Start a lab to get a new one.');
      } else if (info.expiresAt !== restored.expiresAt || !restored.terminals) {
        this.session = { ...restored, expiresAt: info.expiresAt, terminals: restored.terminals ?? info.terminals };
        saveSession(this.session);
      }
    } catch {
      // Server unreachable: the terminal keeps trying to reconnect and says so.
    }
  }

  private onSessionStart(ev: TlSessionStartEvent): void {
    const { session, lab } = ev.detail;
    this.session = {
      id: session.id, token: session.token, lab: lab.id, title: lab.title, expiresAt: session.expiresAt,
      terminals: session.terminals.length > 0 ? session.terminals : undefined,
    };
    saveSession(this.session);
    this.notice = '';
    this.resetSessionView();
    this.now = Date.now();
    void this.loadLab(this.session);
  }

  private resetSessionView(): void {
    this.statuses = new Map();
    this.endError = '';
    this.lab = undefined;
    this.labState = 'loading';
    this.progress = undefined;
    this.activeTerminal = undefined;
    this.lastLabMessageAt = 0;
    this.walkthrough = false;
    this.recorded = new Set();
  }

  /** Fetches the guide's content. A server without guides (404) shows the terminal alone. */
  private async loadLab(session: StoredSession): Promise<void> {
    this.labState = 'loading';
    void this.loadWalkthroughFlag(session);
    try {
      const lab = await getLab(session.id, session.token);
      if (this.session?.id !== session.id) return;
      this.lab = lab;
      this.labState = 'ready';
    } catch (err) {
      if (this.session?.id !== session.id) return;
      // 404: no such route, or the session is gone (the terminal finds out and says so).
      this.labState = err instanceof ApiRequestError && err.status === 404 ? 'none' : 'error';
      console.warn('termlab: cannot load the lab guide:', errorText(err));
    }
  }

  /** Whether the lab has a walkthrough: the lab list says (LabContent does not). */
  private async loadWalkthroughFlag(session: StoredSession): Promise<void> {
    try {
      const { labs } = await listLabs();
      if (this.session?.id === session.id) this.walkthrough = labs.find((l) => l.id === session.lab)?.walkthrough ?? false;
    } catch { /* no walkthrough button then */ }
  }

  private onRecordingsChange(ev: TlRecordingsChangeEvent): void {
    this.recorded = new Set(ev.detail.keys());
  }

  /** The session's terminals in tab order, with titles once the guide's content is in. */
  private terminalsOf(session: StoredSession): LabTerminalInfo[] {
    if (this.lab && this.lab.terminals.length > 0) return this.lab.terminals;
    return (session.terminals ?? ['main']).map((id) => ({ id, title: id, host: '' }));
  }

  private terminalElement(id: string): TlTerminal | undefined {
    return [...this.renderRoot.querySelectorAll('tl-terminal')].find((t) => t.terminal === id);
  }

  private onStatusChange(ev: TlStatusChangeEvent): void {
    const id = (ev.currentTarget as TlTerminal).terminal;
    this.statuses = new Map(this.statuses).set(id, ev.detail);
    // The session is over: a reload should show the list, not try to rejoin.
    if (ev.detail.state === 'ended' && ev.detail.sessionGone) clearSession();
  }

  /**
   * Every terminal's socket carries the lab's progress. Messages are taken from one of them (the
   * first connected), so two sockets delivering the same changes at slightly different times
   * cannot make a step flicker back.
   */
  private onLabProgress(ev: TlLabProgressEvent): void {
    const from = (ev.currentTarget as TlTerminal).terminal;
    const session = this.session;
    if (!session) return;
    const source = this.terminalsOf(session).find((t) => this.statuses.get(t.id)?.state === 'connected')?.id;
    if (source && from !== source) return;
    this.progress = ev.detail;
    this.lastLabMessageAt = Date.now();
  }

  /** The answer to Check: used only when no `lab` message came since it was asked for. */
  private onCheckResult(ev: TlCheckResultEvent): void {
    if (this.lastLabMessageAt <= ev.detail.requestedAt) this.progress = ev.detail.progress;
  }

  /** Run and Show me: types into the named terminal and brings its tab forward. */
  private onTypeInput(ev: TlTypeInputEvent): void {
    const { terminal, text, interrupt } = ev.detail;
    const element = this.terminalElement(terminal);
    if (!element?.connected) return; // not handled: the guide says so
    ev.preventDefault();
    this.selectTerminal(terminal, !matchMedia('(pointer: coarse)').matches);
    void typeCommands((data) => element.sendInput(data), text, interrupt);
  }

  private selectTerminal(id: string, focus = true): void {
    this.activeTerminal = id;
    if (focus) void this.updateComplete.then(() => this.terminalElement(id)?.focus());
  }

  private onTabKey(ev: KeyboardEvent, terminals: LabTerminalInfo[], index: number): void {
    const step = ev.key === 'ArrowRight' ? 1 : ev.key === 'ArrowLeft' ? -1 : 0;
    if (!step) return;
    ev.preventDefault();
    const next = terminals[(index + step + terminals.length) % terminals.length]!;
    this.selectTerminal(next.id);
    void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>(`[data-testid="tab-${next.id}"]`)?.focus());
  }

  // ---- the splitter between guide and terminals ----

  private setGuideWidth(percent: number, save: boolean): void {
    this.guideWidth = Math.round(Math.min(GUIDE_WIDTH.max, Math.max(GUIDE_WIDTH.min, percent)) * 10) / 10;
    if (!save) return;
    try {
      localStorage.setItem(GUIDE_WIDTH.key, String(this.guideWidth));
    } catch { /* storage disabled: the width lasts until the reload */ }
  }

  private onSplitterDown(ev: PointerEvent): void {
    if (ev.button !== 0) return;
    const splitter = ev.currentTarget as HTMLElement;
    const main = splitter.parentElement!;
    splitter.setPointerCapture(ev.pointerId);
    this.dragging = true;
    const move = (e: PointerEvent) => {
      const box = main.getBoundingClientRect();
      this.setGuideWidth(((e.clientX - box.left) / box.width) * 100, false);
    };
    const up = () => {
      splitter.removeEventListener('pointermove', move);
      splitter.removeEventListener('pointerup', up);
      splitter.removeEventListener('pointercancel', up);
      this.dragging = false;
      this.setGuideWidth(this.guideWidth, true);
    };
    splitter.addEventListener('pointermove', move);
    splitter.addEventListener('pointerup', up);
    splitter.addEventListener('pointercancel', up);
  }

  private onSplitterKey(ev: KeyboardEvent): void {
    const step = ev.key === 'ArrowLeft' ? -2 : ev.key === 'ArrowRight' ? 2 : 0;
    if (!step) return;
    ev.preventDefault();
    this.setGuideWidth(this.guideWidth + step, true);
  }

  private onReady(ev: TlReadyEvent): void {
    // Back online after the guide failed to load: try again.
    if (this.session && this.labState === 'error') void this.loadLab(this.session);
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
    this.resetSessionView();
    this.notice = notice;
  }

  protected override updated(): void {
    const page = this.route.page;
    if (page === 'watch' || page === 'embed') return; // tl-watch names the page
    document.title = page === 'recordings' ? 'Recordings · termlab' : this.session ? `${this.session.title} · termlab` : 'termlab';
  }

  protected override render() {
    const route = this.route;
    switch (route.page) {
      case 'embed':
        return html`<tl-watch embed .share=${route.share} .playback=${playbackFromQuery(location.search)}></tl-watch>`;
      case 'watch':
        return html`
          <header>${this.renderBrand()}${this.renderLinks()}</header>
          <main class="list"><tl-watch .share=${route.share} .playback=${playbackFromQuery(location.search)}></tl-watch></main>`;
      case 'recordings':
        return this.renderRecordings();
      case 'labs':
        return this.session ? this.renderSession(this.session) : this.renderList();
    }
  }

  private renderBrand() {
    return html`<a class="brand" href="/" @click=${(ev: MouseEvent) => this.route.page === 'recordings' && this.navigate(ev, 'labs')}>
      <span class="logo" aria-hidden="true">&gt;_</span>termlab</a>`;
  }

  /**
   * Labs and Recordings. During a lab, Recordings opens in a new tab: the lab keeps running here
   * (this tab's session is in its sessionStorage, which a new tab does not share).
   */
  private renderLinks() {
    const page = this.route.page;
    const inLab = page === 'labs' && this.session !== undefined;
    const spa = page === 'labs' || page === 'recordings';
    return html`<nav class="links" aria-label="Pages">
      ${inLab
        ? nothing
        : html`<a href="/" data-testid="nav-labs" aria-current=${page === 'labs' ? 'page' : nothing}
                  @click=${(ev: MouseEvent) => spa && this.navigate(ev, 'labs')}>Labs</a>`}
      <a href=${RECORDINGS_HREF} data-testid="nav-recordings" aria-current=${page === 'recordings' ? 'page' : nothing}
         target=${inLab ? '_blank' : nothing} rel=${inLab ? 'noopener' : nothing}
         title=${inLab ? 'Your recordings (opens in a new tab; the lab keeps running here)' : 'Your recordings'}
         @click=${(ev: MouseEvent) => spa && !inLab && this.navigate(ev, 'recordings')}>Recordings${inLab ? html`<span aria-hidden="true"> ↗</span>` : nothing}</a>
    </nav>`;
  }

  private renderRecordings() {
    const session = this.session;
    return html`
      <header>${this.renderBrand()}${this.renderLinks()}</header>
      <main class="list">
        <div class="list-inner">
          <div class="intro">
            <h1>Recordings</h1>
            <p>What you recorded in labs in this browser. Play, download or share a recording, or play a .cast file from your computer.</p>
          </div>
          ${session
            ? html`<p class="back-note">Your lab <strong>${session.title}</strong> is still running.
                <a href="/" data-testid="back-to-lab" @click=${(ev: MouseEvent) => this.navigate(ev, 'labs')}>Back to the lab</a></p>`
            : nothing}
          <tl-recordings></tl-recordings>
        </div>
      </main>
    `;
  }

  private renderList() {
    return html`
      <header>${this.renderBrand()}${this.renderLinks()}</header>
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
    const ended = [...this.statuses.values()].some((st) => st.state === 'ended' && st.sessionGone);
    const timeClass = left <= 0 ? 'over' : left < 5 * 60_000 ? 'low' : '';
    const terminals = this.terminalsOf(session);
    const active = this.activeOf(terminals);
    return html`
      <header>
        ${this.renderBrand()}
        <span class="lab-title" title=${session.title}>${session.title}</span>
        <div class="session-actions">
          ${this.renderLinks()}
          ${ended
            ? nothing
            : html`<tl-record-toggle .session=${session.id} .token=${session.token} .terminal=${active.id}
                                     .terminalTitle=${terminals.length > 1 ? active.title || active.id : ''}
                                     @tl-recordings-change=${this.onRecordingsChange}></tl-record-toggle>`}
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
      <main class="session ${this.dragging ? 'dragging' : ''}" style="--guide-width: ${this.guideWidth}%">
        ${keyed(session.id, html`${this.renderGuide(session)}${this.renderTerminals(session)}`)}
      </main>
    `;
  }

  private renderGuide(session: StoredSession) {
    if (this.labState === 'none') return nothing;
    const guide = this.lab
      ? html`<tl-guide id="guide" .lab=${this.lab} .progress=${this.progress} .session=${session.id} .token=${session.token}
                       .walkthrough=${this.walkthrough}
                       @tl-type-input=${this.onTypeInput} @tl-check-result=${this.onCheckResult}></tl-guide>`
      : html`<div class="guide-placeholder" id="guide" data-testid="guide-placeholder">
          ${this.labState === 'error'
            ? html`<span role="alert">The lab guide could not be loaded.</span>
                   <button class="small" @click=${() => void this.loadLab(session)}>Try again</button>`
            : html`<span class="loading"><span class="spinner" aria-hidden="true"></span>Loading the guide…</span>`}
        </div>`;
    return html`${guide}
      <div class="splitter" role="separator" aria-orientation="vertical" aria-controls="guide" aria-label="Resize the guide"
           aria-valuemin=${GUIDE_WIDTH.min} aria-valuemax=${GUIDE_WIDTH.max} aria-valuenow=${this.guideWidth} tabindex="0"
           @pointerdown=${this.onSplitterDown} @keydown=${this.onSplitterKey}
           @dblclick=${() => this.setGuideWidth(GUIDE_WIDTH.initial, true)}></div>`;
  }

  private activeOf(terminals: LabTerminalInfo[]): LabTerminalInfo {
    return terminals.find((t) => t.id === this.activeTerminal) ?? terminals[0]!;
  }

  private renderTerminals(session: StoredSession) {
    const terminals = this.terminalsOf(session);
    const active = this.activeOf(terminals).id;
    return html`
      <div class="terminals">
        ${terminals.length > 1
          ? html`<div class="tabs" role="tablist" aria-label="Terminals">
              ${terminals.map((t, i) => html`
                <button class="tab" role="tab" id="tab-${t.id}" data-testid="tab-${t.id}" aria-selected=${t.id === active ? 'true' : 'false'}
                        aria-controls="term-${t.id}" tabindex=${t.id === active ? 0 : -1}
                        @click=${() => this.selectTerminal(t.id)} @keydown=${(ev: KeyboardEvent) => this.onTabKey(ev, terminals, i)}>
                  <span class="dot" aria-hidden="true" data-state=${this.statuses.get(t.id)?.state ?? 'connecting'}></span>${t.title || t.id}
                  ${this.recorded.has(t.id) ? html`<span class="rec" title="Being recorded">REC</span>` : nothing}
                </button>`)}
            </div>`
          : nothing}
        <div class="stack">
          ${repeat(terminals, (t) => t.id, (t) => html`
            <tl-terminal id="term-${t.id}" role=${terminals.length > 1 ? 'tabpanel' : nothing} aria-labelledby=${terminals.length > 1 ? `tab-${t.id}` : nothing}
                         .token=${session.token} .terminal=${t.id} .active=${t.id === active} ?inert=${t.id !== active}
                         @tl-status-change=${this.onStatusChange}
                         @tl-ready=${this.onReady}
                         @tl-lab-progress=${this.onLabProgress}
                         @tl-back=${() => this.leaveSession()}></tl-terminal>`)}
        </div>
      </div>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tl-app': TlApp;
  }
}
