import { LitElement, css, html, nothing, unsafeCSS, type PropertyValues } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import xtermCss from '@xterm/xterm/css/xterm.css';
import type { ReadyMessage } from '../../protocol/messages.js';
import type { ConnectionStatus } from '../terminal/connection.js';
import { TerminalController } from '../terminal/terminal-controller.js';
import { adoptDocumentStyles } from '../document-styles.js';
import { buttonStyles } from './shared-styles.js';

// Linked page-wide before the lab page was its own chunk; the shadow root below has its own copy.
adoptDocumentStyles(xtermCss);

export type TlStatusChangeEvent = CustomEvent<ConnectionStatus>;
export type TlReadyEvent = CustomEvent<ReadyMessage>;

const STATE_LABEL: Record<ConnectionStatus['state'], string> = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting',
  ended: 'Ended',
};

/**
 * One terminal of a lab session: xterm.js fitted to the element, talking to the session's shell
 * over the terminal WebSocket (see web/terminal/connection.ts), with a status line below.
 *
 * Keys: Ctrl+Shift+C copies the selection, Ctrl+Shift+V and the browser's paste paste.
 *
 * @fires tl-status-change - `CustomEvent<ConnectionStatus>` whenever the connection state changes.
 * @fires tl-ready - `CustomEvent<ReadyMessage>` each time the server accepts the connection.
 * @fires tl-back - the person asked to go back to the lab list (offered once the session is gone).
 * @csspart terminal - the box xterm.js renders into
 * @csspart status - the status line
 */
@customElement('tl-terminal')
export class TlTerminal extends LitElement {
  static override styles = [
    unsafeCSS(xtermCss),
    buttonStyles,
    css`
      :host {
        display: flex;
        flex-direction: column;
        min-height: 0;
        min-width: 0;
        background: var(--tl-term-bg, #0d1117);
        border: 1px solid var(--tl-border, #30363d);
        border-radius: var(--tl-radius, 10px);
        overflow: hidden;
      }
      /* A terminal in a tab that is not chosen stays connected and sized, just out of sight. */
      :host(:not([active])) {
        visibility: hidden;
      }
      .terminal {
        flex: 1 1 auto;
        min-height: 0;
        min-width: 0;
        position: relative;
      }
      /* xterm.js sizes itself from this box; FitAddon reads its size. Contained: a flood redraws
         rows many times a second, and none of that should make the browser restyle, lay out or
         repaint the rest of the page (the guide beside it). */
      .xterm-host {
        position: absolute;
        inset: 6px 0 0 8px;
        contain: strict;
      }
      .status {
        flex: none;
        display: flex;
        align-items: center;
        gap: 0.625rem;
        min-height: 2rem;
        padding: 0.25rem 0.75rem;
        font-size: 0.8125rem;
        color: var(--tl-muted, #8b949e);
        background: var(--tl-surface, #161b22);
        border-top: 1px solid var(--tl-border, #30363d);
      }
      .dot {
        flex: none;
        width: 8px;
        height: 8px;
        border-radius: 50%;
        background: var(--tl-muted, #8b949e);
      }
      .status[data-state='connected'] .dot { background: var(--tl-ok, #3fb950); }
      .status[data-state='connecting'] .dot,
      .status[data-state='reconnecting'] .dot {
        background: var(--tl-warn, #d29922);
        animation: pulse 1s ease-in-out infinite alternate;
      }
      .status[data-state='ended'] {
        color: var(--tl-text, #e6edf3);
        background: var(--tl-danger-bg, #3d1d20);
      }
      .status[data-state='ended'] .dot { background: var(--tl-danger, #f85149); }
      .live {
        flex: 1 1 auto;
        min-width: 0;
        display: flex;
        align-items: baseline;
        gap: 0.625rem;
      }
      .status[data-state='ended'] .live { flex-wrap: wrap; row-gap: 0; }
      .label {
        font-weight: 600;
        color: var(--tl-text, #e6edf3);
        white-space: nowrap;
      }
      .message {
        flex: 1 1 auto;
        min-width: 0;
        overflow: hidden;
        text-overflow: ellipsis;
        white-space: nowrap;
      }
      .status[data-state='ended'] .message { white-space: normal; }
      .size {
        flex: none;
        font-variant-numeric: tabular-nums;
      }
      @keyframes pulse {
        from { opacity: 1; }
        to { opacity: 0.35; }
      }
      @media (max-width: 600px) {
        .size { display: none; }
      }
    `,
  ];

  /** Session token (SessionInfo.token); the terminal connects once it is set. */
  @property() token = '';
  /** Terminal id within the session. */
  @property() terminal = 'main';
  /** WebSocket URL; by default ws(s)://<page host>/ws. */
  @property() url?: string;
  /**
   * Whether this terminal is on show (a page with several keeps the others connected, hidden).
   * The active one takes the focus when it connects. Reflected as the `active` attribute.
   */
  @property({ type: Boolean, reflect: true }) active = true;

  @state() private status: ConnectionStatus = { state: 'connecting', attempt: 0, sessionGone: false };
  @state() private size: { cols: number; rows: number } | undefined;

  private rendered = false;
  private readonly controller = new TerminalController(this, {
    container: () => this.renderRoot.querySelector<HTMLElement>('.xterm-host'),
    connection: () => (this.token ? { token: this.token, terminal: this.terminal, url: this.url } : undefined),
    onStatus: (status) => {
      this.status = status;
      this.emit('tl-status-change', status);
    },
    onReady: (ready) => this.emit('tl-ready', ready),
    isActive: () => this.active,
    onResize: (size) => { this.size = size; },
  });

  /** Puts the keyboard focus in the terminal. */
  override focus(): void {
    this.controller.view?.focus();
  }

  /** The server has accepted this terminal's connection (input can be sent). */
  get connected(): boolean {
    return this.controller.connection?.status.state === 'connected';
  }

  /**
   * Sends text to the shell as keyboard input (a command line ends with "\r", Enter). False when the
   * terminal is not connected, and the text was dropped.
   */
  sendInput(text: string): boolean {
    return this.controller.connection?.sendInput(text) ?? false;
  }

  protected override updated(changed: PropertyValues<this>): void {
    // The controller starts after the first render by itself; later changes start over.
    if (this.rendered && (changed.has('token') || changed.has('terminal') || changed.has('url'))) this.controller.restart();
    if (this.rendered && changed.has('active') && this.active) this.controller.publishTestHook();
    this.rendered = true;
  }

  protected override render() {
    const { state, attempt, message, sessionGone } = this.status;
    const label = state === 'reconnecting' ? `Reconnecting (attempt ${attempt})…`
      : state === 'ended' && !sessionGone ? 'Disconnected' : STATE_LABEL[state];
    return html`
      <div class="terminal" part="terminal"><div class="xterm-host"></div></div>
      <div class="status" part="status" data-testid="terminal-status" data-state=${state}>
        <span class="dot" aria-hidden="true"></span>
        <span class="live" role="status">
          <span class="label">${label}</span>
          <span class="message">${message ?? ''}</span>
        </span>
        ${this.renderActions()}
        ${this.size && state !== 'ended' ? html`<span class="size">${this.size.cols}×${this.size.rows}</span>` : nothing}
      </div>
    `;
  }

  private renderActions() {
    const { state, reason, sessionGone } = this.status;
    if (state !== 'ended') return nothing;
    if (sessionGone) {
      return html`<button class="small primary" data-testid="back-to-labs"
                          @click=${() => this.emit('tl-back', undefined)}>Back to labs</button>`;
    }
    if (reason === 'replaced') {
      return html`<button class="small" data-testid="reconnect"
                          @click=${() => this.controller.connection?.reconnect()}>Use here</button>`;
    }
    return html`<button class="small" data-testid="reconnect"
                        @click=${() => this.controller.restart()}>Retry</button>`;
  }

  private emit<T>(type: string, detail: T): void {
    this.dispatchEvent(new CustomEvent<T>(type, { detail, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tl-terminal': TlTerminal;
  }
  interface HTMLElementEventMap {
    'tl-status-change': TlStatusChangeEvent;
    'tl-ready': TlReadyEvent;
    'tl-back': CustomEvent<undefined>;
  }
}
