import { LitElement, css, html, nothing, type PropertyValues } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { RecordingInfo } from '../../protocol/api.js';
import { errorText, getRecording, getSession, setRecording } from '../api.js';
import { buttonStyles } from './shared-styles.js';
import { formatClock } from '../controllers/clock-controller.js';

/** A terminal being recorded: its recording's id, and since when (epoch ms; undefined when unknown). */
export interface RunningRecording {
  id: string;
  since: number | undefined;
  input: boolean;
}

/** How often the button asks whether its recordings still run (the server stops them at their limits). */
const POLL_MS = 3000;

/** Terminal id → its running recording. */
export type TlRecordingsChangeEvent = CustomEvent<ReadonlyMap<string, RunningRecording>>;

/**
 * Record button for the terminal on show: starts and stops recording it on the server
 * (POST .../terminals/:terminal/recording), shows a red dot and the time recorded while it runs,
 * and offers to record keystrokes too (off unless ticked: they may include passwords). After a
 * reload the running recordings come back from GET /api/sessions/:id; while one runs the button
 * asks again every few seconds, since the server stops a recording by itself at its size or time
 * limit, and then says why.
 *
 * @fires tl-recordings-change - `CustomEvent<Map<terminal, RunningRecording>>` whenever a recording starts or stops.
 */
@customElement('tl-record-toggle')
export class TlRecordToggle extends LitElement {
  static override styles = [
    buttonStyles,
    css`
      :host {
        display: inline-flex;
        align-items: center;
        gap: 0.75rem;
        flex-wrap: wrap;
      }
      .record {
        gap: 0.5rem;
        font-variant-numeric: tabular-nums;
      }
      .dot {
        width: 0.625rem;
        height: 0.625rem;
        border-radius: 50%;
        border: 2px solid var(--tl-danger, #f85149);
        box-sizing: border-box;
      }
      .record[data-recording='true'] {
        border-color: var(--tl-danger, #f85149);
        background: color-mix(in srgb, var(--tl-danger, #f85149) 14%, transparent);
      }
      .record[data-recording='true'] .dot {
        background: var(--tl-danger, #f85149);
        animation: blink 1.2s ease-in-out infinite;
      }
      @keyframes blink {
        50% { opacity: 0.35; }
      }
      @media (prefers-reduced-motion: reduce) {
        .record[data-recording='true'] .dot { animation: none; }
      }
      .input {
        display: inline-flex;
        align-items: center;
        gap: 0.375rem;
        font-size: 0.8125rem;
        color: var(--tl-muted, #8b949e);
        cursor: pointer;
        white-space: nowrap;
      }
      .input input { margin: 0; accent-color: var(--tl-danger, #f85149); }
      .warn { color: var(--tl-warn, #d29922); }
      .tag {
        font-size: 0.75rem;
        padding: 0.125rem 0.5rem;
        border-radius: 999px;
        border: 1px solid color-mix(in srgb, var(--tl-warn, #d29922) 50%, transparent);
        color: var(--tl-warn, #d29922);
        white-space: nowrap;
      }
      .error {
        font-size: 0.8125rem;
        color: var(--tl-danger, #f85149);
      }
      .notice {
        font-size: 0.8125rem;
        color: var(--tl-warn, #d29922);
      }
      @media (max-width: 600px) {
        .tag, .input .warn { display: none; }
      }
    `,
  ];

  /** Session id and token (Bearer) of the running lab. */
  @property() session = '';
  @property() token = '';
  /** The terminal the button is for (the tab on show). */
  @property() terminal = 'main';
  /** Shown as "Record main" etc. when the lab has several terminals. */
  @property() terminalTitle = '';

  @state() private running: ReadonlyMap<string, RunningRecording> = new Map();
  @state() private busy = false;
  @state() private withInput = false;
  @state() private error = '';
  @state() private now = Date.now();
  /** Why a recording stopped by itself ("reached its 64 MiB limit"). */
  @state() private notice = '';

  private clock: ReturnType<typeof setInterval> | undefined;
  private polled = 0;
  /** Bumped on every change of `running`, so a poll answered after a click does not undo it. */
  private generation = 0;

  /** Terminals being recorded now. */
  get recordings(): ReadonlyMap<string, RunningRecording> { return this.running; }

  override connectedCallback(): void {
    super.connectedCallback();
    this.clock = setInterval(() => {
      if (this.running.size === 0) return;
      this.now = Date.now();
      if (this.now - this.polled >= POLL_MS && !this.busy) void this.poll();
    }, 1000);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearInterval(this.clock);
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if ((changed.has('session') || changed.has('token')) && this.session && this.token) void this.restore(this.session, this.token);
    if (changed.has('terminal')) this.error = '';
  }

  /** The recordings running in the session (after a reload), with their start times where this browser owns them. */
  private async restore(session: string, token: string): Promise<void> {
    this.setRunning(new Map());
    let ids: Record<string, string>;
    try {
      ids = (await getSession(session, token))?.recordings ?? {};
    } catch {
      return; // offline: the button shows "Record"; pressing it returns the running recording
    }
    const entries = await Promise.all(Object.entries(ids).map(async ([terminal, id]): Promise<[string, RunningRecording]> => {
      try {
        const info = await getRecording(id);
        return [terminal, { id, since: info.createdAt, input: info.input }];
      } catch {
        return [terminal, { id, since: undefined, input: false }]; // started from another browser
      }
    }));
    if (this.session === session) this.setRunning(new Map(entries));
  }

  /** Notices recordings the server stopped (a limit, or the session ended) and says why. */
  private async poll(): Promise<void> {
    const { session, token } = this;
    this.polled = Date.now();
    const generation = this.generation;
    let ids: Record<string, string>;
    try {
      const info = await getSession(session, token);
      if (!info) return; // the session is gone: the page handles that
      ids = info.recordings ?? {};
    } catch {
      return; // offline for now
    }
    if (this.session !== session || this.busy || this.generation !== generation) return;
    const gone = [...this.running].filter(([terminal, rec]) => ids[terminal] !== rec.id);
    if (gone.length === 0) return;
    const next = new Map(this.running);
    for (const [terminal] of gone) next.delete(terminal);
    this.setRunning(next);
    for (const [terminal, rec] of gone) {
      const why = await getRecording(rec.id).then((r) => r.stopped, () => undefined);
      if (why) this.notice = `Recording${this.terminalTitle && terminal !== this.terminal ? ` of ${terminal}` : ''} stopped: ${why}.`;
    }
  }

  private setRunning(next: ReadonlyMap<string, RunningRecording>): void {
    this.running = next;
    this.generation++;
    this.now = Date.now();
    this.dispatchEvent(new CustomEvent('tl-recordings-change', { detail: next, bubbles: true, composed: true }));
  }

  private async toggle(): Promise<void> {
    if (this.busy) return;
    const terminal = this.terminal;
    const on = !this.running.has(terminal);
    this.busy = true;
    this.error = '';
    this.notice = '';
    try {
      const info: RecordingInfo | undefined = await setRecording(this.session, this.token, terminal, on, on && this.withInput);
      const next = new Map(this.running);
      if (info) next.set(terminal, { id: info.id, since: Math.min(Date.now(), info.createdAt), input: info.input });
      else next.delete(terminal);
      this.setRunning(next);
      if (!on) this.withInput = false;
    } catch (err) {
      this.error = `Could not ${on ? 'start' : 'stop'} recording: ${errorText(err)}`;
    } finally {
      this.busy = false;
    }
  }

  protected override render() {
    const rec = this.running.get(this.terminal);
    const which = this.terminalTitle ? ` ${this.terminalTitle}` : '';
    const elapsed = rec?.since !== undefined ? formatClock((this.now - rec.since) / 1000) : '';
    return html`
      <button class="record small" data-testid="record-toggle" data-recording=${rec ? 'true' : 'false'}
              aria-pressed=${rec ? 'true' : 'false'} ?disabled=${this.busy || !this.session}
              title=${rec ? `Stop recording${which}` : `Record this terminal${which}`} @click=${this.toggle}>
        <span class="dot" aria-hidden="true"></span>
        ${rec
          ? html`<span data-testid="record-elapsed">${elapsed || 'REC'}</span><span>Stop</span>`
          : html`Record${which}`}
      </button>
      ${rec
        ? (rec.input ? html`<span class="tag" title="Keystrokes are recorded too">+ keystrokes</span>` : nothing)
        : html`<label class="input" title="Also record what you type. Keystrokes may include passwords.">
            <input type="checkbox" data-testid="record-input" .checked=${this.withInput} ?disabled=${this.busy}
                   @change=${(ev: Event) => { this.withInput = (ev.target as HTMLInputElement).checked; }}>
            Include keystrokes${this.withInput ? html`<span class="warn" data-testid="record-input-warning">⚠ keystrokes may include passwords</span>` : nothing}
          </label>`}
      ${this.error ? html`<span class="error" role="alert">${this.error}</span>` : nothing}
      ${this.notice ? html`<span class="notice" role="status" data-testid="record-stopped">${this.notice}</span>` : nothing}
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tl-record-toggle': TlRecordToggle;
  }
  interface HTMLElementEventMap {
    'tl-recordings-change': TlRecordingsChangeEvent;
  }
}
