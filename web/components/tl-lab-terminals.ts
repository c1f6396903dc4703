import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { repeat } from 'lit/directives/repeat.js';
import type { LabTerminalInfo } from '../../protocol/api.js';
import { typeCommands } from '../lab/typing.js';
import type { ConnectionStatus } from '../terminal/connection.js';
import { buttonStyles } from './shared-styles.js';
import type { TlStatusChangeEvent, TlTerminal } from './tl-terminal.js';
import './tl-terminal.js';

/**
 * A session's terminals, in tabs when there are several. Every terminal stays connected and sized;
 * the ones in other tabs are hidden by tl-terminal.
 * @fires tl-active-terminal - `CustomEvent<LabTerminalInfo>`: the tab on show changed.
 * (tl-terminal's own events, tl-status-change, tl-ready and tl-back, bubble through.)
 */
@customElement('tl-lab-terminals')
export class TlLabTerminals extends LitElement {
  static override styles = [buttonStyles, css`
    :host { display: flex; flex-direction: column; min-width: 0; min-height: 0; }
    .tabs { flex: none; display: flex; gap: 0.25rem; overflow-x: auto; margin-bottom: -1px; position: relative; z-index: 1; }
    .tab {
      gap: 0.5rem; min-height: 2.125rem; padding: 0 0.875rem; border-radius: var(--tl-radius-sm) var(--tl-radius-sm) 0 0;
      border-color: transparent; border-bottom: 0; background: none; color: var(--tl-muted); font-weight: 500;
    }
    .tab:hover:not(:disabled) { background: var(--tl-surface); border-color: transparent; color: var(--tl-text); }
    .tab[aria-selected='true'] { background: var(--tl-term-bg); border-color: var(--tl-border); color: var(--tl-text); font-weight: 600; }
    .tab .dot { width: 7px; height: 7px; border-radius: 50%; background: var(--tl-muted); }
    .tab .dot[data-state='connected'] { background: var(--tl-ok); }
    .tab .dot[data-state='connecting'], .tab .dot[data-state='reconnecting'] { background: var(--tl-warn); }
    .tab .dot[data-state='ended'] { background: var(--tl-danger); }
    .tab .rec { font-size: 0.6875rem; font-weight: 700; letter-spacing: 0.04em; color: var(--tl-danger); }
    .stack { flex: 1 1 auto; min-height: 0; position: relative; }
    .stack tl-terminal { position: absolute; inset: 0; }
    .tabs + .stack tl-terminal { border-top-left-radius: 0; }
  `];

  @property() token = '';
  @property({ attribute: false }) terminals: LabTerminalInfo[] = [];
  /** Terminals being recorded (their tabs say so). */
  @property({ attribute: false }) recorded: ReadonlySet<string> = new Set();

  @state() private active: string | undefined;
  @state() private statuses: ReadonlyMap<string, ConnectionStatus> = new Map();

  /** The terminal on show. */
  get activeTerminal(): LabTerminalInfo {
    return this.terminals.find((t) => t.id === this.active) ?? this.terminals[0] ?? { id: 'main', title: 'main', host: '' };
  }

  /** Types text into a terminal (line by line) and brings its tab forward; false when it is not connected. */
  typeInto(terminal: string, text: string, interrupt: boolean): boolean {
    const element = this.terminalElement(terminal);
    if (!element?.connected) return false;
    this.select(terminal, !matchMedia('(pointer: coarse)').matches);
    void typeCommands((data) => element.sendInput(data), text, interrupt);
    return true;
  }

  private terminalElement(id: string): TlTerminal | undefined {
    return [...this.renderRoot.querySelectorAll('tl-terminal')].find((t) => t.terminal === id);
  }

  private select(id: string, focus = true): void {
    this.active = id;
    this.dispatchEvent(new CustomEvent('tl-active-terminal', { detail: this.activeTerminal, bubbles: true, composed: true }));
    if (focus) void this.updateComplete.then(() => this.terminalElement(id)?.focus());
  }

  private onTabKey(ev: KeyboardEvent, index: number): void {
    const step = ev.key === 'ArrowRight' ? 1 : ev.key === 'ArrowLeft' ? -1 : 0;
    if (!step) return;
    ev.preventDefault();
    const next = this.terminals[(index + step + this.terminals.length) % this.terminals.length]!;
    this.select(next.id);
    void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>(`[data-testid="tab-${next.id}"]`)?.focus());
  }

  private onStatusChange(ev: TlStatusChangeEvent): void {
    const id = (ev.currentTarget as TlTerminal).terminal;
    this.statuses = new Map(this.statuses).set(id, ev.detail);
  }

  protected override render() {
    return html`${this.terminals.length > 1 ? this.renderTabs() : nothing}${this.renderStack()}`;
  }

  private renderTabs() {
    const active = this.activeTerminal.id;
    return html`<div class="tabs" role="tablist" aria-label="Terminals">
      ${this.terminals.map((t, i) => html`
        <button class="tab" role="tab" id="tab-${t.id}" data-testid="tab-${t.id}" aria-selected=${t.id === active ? 'true' : 'false'}
                aria-controls="term-${t.id}" tabindex=${t.id === active ? 0 : -1}
                @click=${() => this.select(t.id)} @keydown=${(ev: KeyboardEvent) => this.onTabKey(ev, i)}>
          <span class="dot" aria-hidden="true" data-state=${this.statuses.get(t.id)?.state ?? 'connecting'}></span>${t.title || t.id}
          ${this.recorded.has(t.id) ? html`<span class="rec" title="Being recorded">REC</span>` : nothing}
        </button>`)}
    </div>`;
  }

  private renderStack() {
    const active = this.activeTerminal.id;
    const tabbed = this.terminals.length > 1;
    return html`<div class="stack">
      ${repeat(this.terminals, (t) => t.id, (t) => html`
        <tl-terminal id="term-${t.id}" role=${tabbed ? 'tabpanel' : nothing} aria-labelledby=${tabbed ? `tab-${t.id}` : nothing}
                     .token=${this.token} .terminal=${t.id} .active=${t.id === active} ?inert=${t.id !== active}
                     @tl-status-change=${this.onStatusChange}></tl-terminal>`)}
    </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'tl-lab-terminals': TlLabTerminals }
  interface HTMLElementEventMap { 'tl-active-terminal': CustomEvent<LabTerminalInfo> }
}
