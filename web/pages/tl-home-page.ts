import { LitElement, css, html } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { errorText, getSession } from '../api.js';
import { loadLabPage } from '../chunks.js';
import { pageStyles } from '../components/shared-styles.js';
import type { TlSessionStartEvent } from '../components/tl-lab-list.js';
import { clearSession, loadSession, saveSession, toStoredSession, type StoredSession } from '../session-store.js';
import type { TlSessionLeaveEvent } from './tl-lab-page.js';
import '../components/tl-lab-list.js';
import '../components/tl-join-box.js';

/**
 * "/": the running lab of this tab (kept in sessionStorage, so a reload rejoins it), or else the
 * lab list with a box to join a workshop by its code. The running lab's element (xterm.js, the
 * guide) is a chunk of its own, fetched when there is a lab to show.
 * @fires tl-session-change - a lab started or ended (the header follows).
 */
@customElement('tl-home-page')
export class TlHomePage extends LitElement {
  static override styles = [pageStyles, css`
    .list-head { display: flex; flex-wrap: wrap; gap: 1rem 2rem; align-items: flex-end; justify-content: space-between; margin-bottom: 1.75rem; }
    .list-head .intro p { margin: 0; }
  `];

  @state() private session: StoredSession | undefined = loadSession();
  @state() private notice = '';
  /** The lab page's chunk could not be fetched. */
  @state() private loadError = '';
  /** `/?start=<lab>`: the lab list starts this lab once loaded (unless this tab already runs one). */
  private autostart = '';

  override connectedCallback(): void {
    super.connectedCallback();
    if (this.session) void this.checkRestored(this.session);
    this.takeStartParam();
  }

  /** Reads `?start=<lab>` and drops it from the address, so a reload rejoins the lab it started instead of starting another. */
  private takeStartParam(): void {
    const params = new URLSearchParams(location.search);
    const lab = params.get('start');
    if (lab === null) return;
    if (!this.session) this.autostart = lab;
    params.delete('start');
    const query = params.toString();
    history.replaceState(history.state, '', `${location.pathname}${query ? `?${query}` : ''}${location.hash}`);
  }

  /** After a reload: a session that is gone shows the list instead of a terminal that cannot connect. */
  private async checkRestored(restored: StoredSession): Promise<void> {
    try {
      const info = await getSession(restored.id, restored.token);
      if (this.session !== restored) return;
      if (!info) {
        this.leave('Your previous lab session has ended. Start a lab to get a new one.');
      } else if (info.expiresAt !== restored.expiresAt || !restored.terminals) {
        this.setSession({ ...restored, expiresAt: info.expiresAt, terminals: restored.terminals ?? info.terminals });
      }
    } catch {
      // Server unreachable: the terminal keeps trying to reconnect and says so.
    }
  }

  private setSession(session: StoredSession | undefined): void {
    this.session = session;
    if (session) saveSession(session);
    else clearSession();
    this.dispatchEvent(new CustomEvent('tl-session-change', { bubbles: true, composed: true }));
  }

  private onSessionStart(ev: TlSessionStartEvent): void {
    const { session, lab } = ev.detail;
    this.notice = '';
    this.autostart = '';
    this.setSession(toStoredSession(session, lab.id, lab.title));
  }

  private leave(notice = ''): void {
    this.setSession(undefined);
    this.notice = notice;
  }

  /** A lab to show and its element not yet defined: fetch its chunk, render again once it is. */
  protected override willUpdate(): void {
    if (!this.session || customElements.get('tl-lab-page')) return;
    loadLabPage().then(() => this.requestUpdate(), (err: unknown) => { this.loadError = errorText(err); });
  }

  protected override render() {
    const session = this.session;
    if (session && this.loadError) {
      return html`<main class="list"><p class="error" role="alert">The lab page could not be loaded (${this.loadError}). Reload to try again.</p></main>`;
    }
    // Made only once defined: it reads `.session` when it connects (see web/chunks.ts).
    if (session && !customElements.get('tl-lab-page')) return html`<main class="list" aria-busy="true"></main>`;
    if (session) {
      return html`<tl-lab-page .session=${session}
                               @tl-session-update=${(ev: CustomEvent<StoredSession>) => this.setSession(ev.detail)}
                               @tl-session-leave=${(ev: TlSessionLeaveEvent) => this.leave(ev.detail.notice)}></tl-lab-page>`;
    }
    return html`<main class="list"><div class="list-inner">
      <div class="list-head">
        <div class="intro">
          <h1>Labs</h1>
          <p>Pick a lab to get a fresh sandbox with a terminal in your browser.</p>
        </div>
        <tl-join-box></tl-join-box>
      </div>
      <tl-lab-list .notice=${this.notice} .autostart=${this.autostart} @tl-session-start=${this.onSessionStart}></tl-lab-list>
    </div></main>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'tl-home-page': TlHomePage }
}
