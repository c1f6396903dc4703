import { LitElement, css, html, nothing, unsafeCSS, type PropertyValues } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import xtermCss from '@xterm/xterm/css/xterm.css';
import { Terminal } from '@xterm/xterm';
import type { WorkshopRole } from '../../protocol/workshops.js';
import { errorText } from '../api.js';
import { DisposableStore } from '../lifecycle.js';
import { TERMINAL_FONT, TERMINAL_THEME } from '../terminal/terminal-view.js';
import { ViewConnection, type ViewControl, type ViewStatus } from '../terminal/view-connection.js';
import { viewTicket, workshopActions } from '../workshop-api.js';
import { adoptDocumentStyles } from '../document-styles.js';
import { buttonStyles } from './shared-styles.js';

// Linked page-wide before the dashboard was its own chunk; the shadow root below has its own copy.
adoptDocumentStyles(xtermCss);

declare global {
  interface Window {
    /** Test hook: the shadow view's terminal, for browser tests. */
    __termlabView?: { term: Terminal };
  }
}

/**
 * Looking over a learner's shoulder: a read-only copy of their terminal, at their size, live. The
 * instructor can ask to take control (the learner must allow it on their screen) and give it back.
 * @fires tl-view-close - the person closed the view.
 */
@customElement('tl-shadow-view')
export class TlShadowView extends LitElement {
  static override styles = [unsafeCSS(xtermCss), buttonStyles, css`
    :host { display: flex; flex-direction: column; gap: 0.5rem; min-height: 0; }
    .bar { display: flex; align-items: center; gap: 0.75rem; flex-wrap: wrap; }
    .bar h2 { font-size: 1rem; margin: 0; flex: 1 1 auto; }
    .status { font-size: 0.8125rem; color: var(--tl-muted); }
    .status[data-state='connected'] { color: var(--tl-ok); }
    .status[data-state='ended'] { color: var(--tl-danger); }
    .typing { color: var(--tl-warn); font-weight: 600; font-size: 0.875rem; }
    .screen { overflow: auto; background: var(--tl-term-bg); border: 1px solid var(--tl-border); border-radius: var(--tl-radius-sm); padding: 6px 8px; }
    .screen.typing-on { border-color: var(--tl-warn); }
    .error { color: var(--tl-danger); font-size: 0.875rem; }
  `];

  @property() workshop = '';
  @property() seat = '';
  @property() name = '';
  @property({ attribute: false }) viewerRole: WorkshopRole = 'assistant';

  @state() private terminals: string[] = [];
  @state() private terminal = 'main';
  @state() private status: ViewStatus = { state: 'connecting' };
  @state() private control: ViewControl = { control: 'learner', canType: false };
  @state() private error = '';
  @state() private requested = false;

  private readonly resources = new DisposableStore();
  private term: Terminal | undefined;
  private connection: ViewConnection | undefined;

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.stop();
  }

  protected override updated(changed: PropertyValues<this>): void {
    if (changed.has('seat') || changed.has('workshop')) void this.start();
  }

  private stop(): void {
    if (this.term && window.__termlabView?.term === this.term) delete window.__termlabView;
    this.resources.clear();
    this.term = undefined;
    this.connection = undefined;
  }

  private async start(terminal?: string): Promise<void> {
    this.stop();
    this.error = '';
    if (!this.workshop || !this.seat) return;
    let first: string | undefined;
    if (!terminal) {
      try {
        const answer = await viewTicket(this.workshop, this.seat);
        this.terminals = answer.terminals;
        first = answer.ticket;
        terminal = answer.terminals[0] ?? 'main';
      } catch (err) {
        this.status = { state: 'ended', message: `Cannot view this terminal: ${errorText(err)}` };
        return;
      }
    }
    this.terminal = terminal;
    await this.updateComplete;
    const host = this.renderRoot.querySelector<HTMLElement>('.xterm-host');
    if (!host) return;
    const term = this.resources.add(new Terminal({
      cols: 80, rows: 24, fontFamily: TERMINAL_FONT, fontSize: 13, lineHeight: 1.15, theme: TERMINAL_THEME, scrollback: 2000,
      cursorBlink: false, disableStdin: false,
    }));
    term.open(host);
    this.term = term;
    window.__termlabView = { term };
    const connection = this.resources.add(new ViewConnection(term, {
      terminal,
      ticket: async () => {
        if (first) { const t = first; first = undefined; return t; }
        return (await viewTicket(this.workshop, this.seat)).ticket;
      },
    }));
    this.connection = connection;
    this.resources.add(connection.onStatusChange((s) => { this.status = s; }));
    this.resources.add(term.onData(() => {
      if (!this.control.canType) {
        this.error = this.viewerRole === 'instructor'
          ? 'This view is read-only: press Request control, and type once the learner has allowed it.'
          : 'This view is read-only: only the instructor can type, and only when the learner allows it.';
      }
    }));
    this.resources.add(connection.onControl((c) => {
      this.control = c;
      if (c.control === 'instructor') this.requested = false;
      if (c.canType) this.error = '';
    }));
  }

  private async setControl(on: boolean): Promise<void> {
    this.error = '';
    try {
      await workshopActions.control(this.workshop, this.seat, on);
      this.requested = on;
      if (on) this.term?.focus();
    } catch (err) {
      this.error = `Could not ${on ? 'ask for' : 'give back'} control: ${errorText(err)}`;
    }
  }

  protected override render() {
    const typing = this.control.canType;
    return html`
      <div class="bar">
        <h2>${this.name || this.seat}'s terminal</h2>
        ${this.terminals.length > 1 ? html`<select aria-label="Terminal" @change=${(ev: Event) => void this.start((ev.target as HTMLSelectElement).value)}>
            ${this.terminals.map((t) => html`<option ?selected=${t === this.terminal}>${t}</option>`)}</select>` : nothing}
        <span class="status" data-testid="view-status" data-state=${this.status.state}>${this.statusText()}</span>
        ${this.renderControl()}
        <button class="small" data-testid="view-close"
                @click=${() => this.dispatchEvent(new CustomEvent('tl-view-close', { bubbles: true, composed: true }))}>Close</button>
      </div>
      ${typing ? html`<div class="typing" role="status" data-testid="view-typing">You are typing in ${this.name || this.seat}'s terminal.</div>` : nothing}
      ${this.error ? html`<div class="error" role="alert">${this.error}</div>` : nothing}
      <div class="screen ${typing ? 'typing-on' : ''}" data-testid="view-screen"><div class="xterm-host"></div></div>`;
  }

  private statusText(): string {
    const { state, message } = this.status;
    const label = state === 'connected' ? 'Live, read-only' : state === 'ended' ? 'Ended' : state === 'reconnecting' ? 'Reconnecting…' : 'Connecting…';
    return message && state !== 'connected' ? `${label}: ${message}` : label;
  }

  private renderControl() {
    if (this.viewerRole !== 'instructor' || this.status.state === 'ended') return nothing;
    if (this.control.control === 'instructor') {
      return html`<button class="small" data-testid="view-give-back" @click=${() => void this.setControl(false)}>Give control back</button>`;
    }
    return this.requested
      ? html`<span class="status" data-testid="view-requested">Waiting for the learner to allow it…</span>`
      : html`<button class="small" data-testid="view-request-control" @click=${() => void this.setControl(true)}>Request control</button>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'tl-shadow-view': TlShadowView }
  interface HTMLElementEventMap { 'tl-view-close': CustomEvent<undefined> }
}
