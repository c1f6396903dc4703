import { LitElement, css, html, nothing, type PropertyValues } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { RecordingInfo } from '../../protocol/api.js';
import { castUrl, errorText, getSharedRecording } from '../api.js';
import { formatClock } from '../controllers/clock-controller.js';
import './tl-player.js';

/** Playback settings a share or embed link may carry: ?speed=2&idle=1&autoplay=1. */
export interface LinkPlayback {
  speed: number | undefined;
  idleLimit: number | undefined;
  autoplay: boolean;
}

export function playbackFromQuery(search: string): LinkPlayback {
  const q = new URLSearchParams(search);
  const positive = (v: string | null) => (v !== null && Number(v) > 0 ? Number(v) : undefined);
  return { speed: positive(q.get('speed')), idleLimit: positive(q.get('idle')), autoplay: ['1', 'true'].includes(q.get('autoplay') ?? '') };
}

/**
 * A shared recording, read-only, for anyone with the link: /watch/<share> (the page: title, when,
 * how long, the player with its chapters) and /embed/<share> (`embed`: the player alone, filling
 * the frame, for other sites' iframes).
 */
@customElement('tl-watch')
export class TlWatch extends LitElement {
  static override styles = css`
    :host {
      display: block;
      min-height: 0;
    }
    :host([embed]) {
      height: 100%;
      overflow: auto;
      background: var(--tl-term-bg, #0d1117);
    }
    .page {
      max-width: 1200px;
      margin: 0 auto;
      padding: 1.5rem 1.25rem 3rem;
    }
    h1 {
      margin: 0 0 0.25rem;
      font-size: 1.375rem;
      letter-spacing: -0.01em;
      overflow-wrap: anywhere;
    }
    .meta {
      margin: 0 0 1.25rem;
      display: flex;
      gap: 0.25rem 1rem;
      flex-wrap: wrap;
      font-size: 0.875rem;
      color: var(--tl-muted, #8b949e);
      font-variant-numeric: tabular-nums;
    }
    tl-player { --tl-player-max-height: max(14rem, calc(100dvh - 17rem)); }
    .error {
      padding: 1rem;
      border-radius: var(--tl-radius, 10px);
      border: 1px solid var(--tl-danger-border, #8e1519);
      background: var(--tl-danger-bg, #3d1d20);
    }
    .error a { color: var(--tl-accent, #58a6ff); }
  `;

  /** The share id from the link. */
  @property() share = '';
  /** Only the player (the /embed/ page). */
  @property({ type: Boolean, reflect: true }) embed = false;
  /** Speed, idle limit and autoplay from the link's query. */
  @property({ attribute: false }) playback: LinkPlayback = { speed: undefined, idleLimit: undefined, autoplay: false };

  @state() private info: RecordingInfo | undefined;
  @state() private error = '';

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('share') && !this.embed) void this.loadInfo(this.share);
  }

  private async loadInfo(share: string): Promise<void> {
    this.info = undefined;
    this.error = '';
    try {
      const info = await getSharedRecording(share);
      if (share === this.share) this.info = info;
    } catch (err) {
      if (share === this.share) this.error = errorText(err);
    }
  }

  protected override updated(): void {
    if (!this.embed) document.title = this.info ? `${this.info.title} · termlab` : 'Recording · termlab';
  }

  protected override render() {
    const p = this.playback;
    const player = html`<tl-player src=${castUrl.shared(this.share)} name=${this.info?.title ?? 'The recording'}
                                   .speed=${p.speed ?? 1} .idleLimit=${p.idleLimit} ?autoplay=${p.autoplay}
                                   ?compact=${this.embed}></tl-player>`;
    if (this.embed) return player;
    if (this.error) {
      return html`<div class="page"><div class="error" role="alert" data-testid="watch-error">
        This recording cannot be shown: ${this.error}. <a href="/">See the labs</a>
      </div></div>`;
    }
    const info = this.info;
    return html`
      <div class="page">
        <h1 data-testid="watch-title">${info?.title ?? 'Recording'}</h1>
        <p class="meta">
          ${info
            ? html`<span>Recorded ${new Date(info.createdAt).toLocaleString()}</span>
                   ${info.recording ? html`<span>still recording</span>` : html`<span>${formatClock(info.durationS)}</span>`}`
            : html`<span>Loading…</span>`}
        </p>
        ${info || this.share ? player : nothing}
      </div>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tl-watch': TlWatch;
  }
}
