import { LitElement, css, html, nothing, unsafeCSS, type PropertyValues } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { createRef, ref } from 'lit/directives/ref.js';
import playerCss from 'asciinema-player/dist/bundle/asciinema-player.css';
import { MutableDisposable } from '../lifecycle.js';
import { CastLoadError, fetchCast, readCast, type Chapter, type LoadedCast } from '../player/cast.js';
import { CastPlayer, type PlayerState } from '../player/cast-player.js';
import { TERMINAL_THEME } from '../terminal/theme.js';
import { formatClock } from '../controllers/clock-controller.js';
import { adoptDocumentStyles } from '../document-styles.js';
import { spinnerStyles } from './shared-styles.js';

// The player measures its character cell in document.body, outside this element's shadow root.
adoptDocumentStyles(playerCss);

export type { PlayerState } from '../player/cast-player.js';
export type TlPlayerStateEvent = CustomEvent<PlayerState>;
export interface ChapterChangeDetail {
  /** Index of the chapter playing, -1 before the first marker. */
  index: number;
  chapter: Chapter | undefined;
}
export type TlChapterChangeEvent = CustomEvent<ChapterChangeDetail>;

export const SPEEDS = [0.5, 1, 1.5, 2, 4, 8, 16];
/** Pauses longer than this are cut when neither the page nor the file says otherwise (seconds). */
export const DEFAULT_IDLE_LIMIT = 2;
const IDLE_LIMITS = [0.5, 1, 2, 5, Infinity];

/** The player's colours: the lab terminal's (web/terminal/theme.ts), as asciinema-player's theme variables. */
function themeCss(): string {
  const t = TERMINAL_THEME;
  const palette = [t.black, t.red, t.green, t.yellow, t.blue, t.magenta, t.cyan, t.white, t.brightBlack, t.brightRed,
    t.brightGreen, t.brightYellow, t.brightBlue, t.brightMagenta, t.brightCyan, t.brightWhite];
  return `.asciinema-player-theme-termlab {
    --term-color-foreground: ${t.foreground}; --term-color-background: ${t.background};
    ${palette.map((c, i) => `--term-color-${i}: ${c};`).join(' ')}
  }`;
}

/**
 * Width over height of the player showing a recording at its starting size: asciinema-player's
 * cells are about 0.6 by 1.33 em, its border 0.75 em, its control bar 34 px (at 15 px). Close is
 * enough: the player fits itself into the box and centres.
 */
function screenRatio(recording: LoadedCast): number {
  const { width, height } = recording.cast.header;
  return (width * 0.6 + 1.5) / (height * 1.3333 + 1.5 + 34 / 15);
}

function limitLabel(limit: number): string {
  return Number.isFinite(limit) ? `Cut pauses to ${limit} s` : 'Keep pauses';
}

/**
 * Plays an asciicast recording with asciinema-player (its own controls: play/pause, seek bar with
 * the markers, fullscreen, keys), with a speed and a pause-cutting choice below it and the
 * recording's markers as a chapter list beside it: choosing one plays from there, and the one
 * playing is highlighted.
 *
 * The file is fetched as text (`src`) or given (`castText`) and checked with the protocol's
 * parser first: a broken file shows what is wrong and on which line, and no player.
 *
 * @fires tl-player-state - `CustomEvent<PlayerState>`: loading, paused (ready), playing, ended, error.
 * @fires tl-chapter-change - `CustomEvent<{index, chapter}>`: another chapter is playing.
 * @cssprop --tl-player-max-height - the most height the player takes (default: the viewport's less 14rem)
 * @csspart screen - the box the player renders into
 * @csspart chapters - the chapter list
 */
@customElement('tl-player')
export class TlPlayer extends LitElement {
  static override styles = [
    unsafeCSS(playerCss),
    unsafeCSS(themeCss()),
    spinnerStyles,
    // Not buttonStyles: its rules for every button would restyle the player's own buttons.
    css`
      :host {
        display: block;
        container-type: inline-size;
        min-width: 0;
      }
      .wrap {
        display: grid;
        grid-template-columns: minmax(0, 1fr);
        gap: 0.75rem;
      }
      @container (min-width: 760px) {
        .wrap.has-chapters { grid-template-columns: minmax(0, 1fr) minmax(12rem, 16rem); }
      }
      .stage {
        min-width: 0;
        display: flex;
        flex-direction: column;
        gap: 0.5rem;
      }
      /*
       * The box has the recording's shape (width over height, --ratio) but no more than
       * --tl-player-max-height of height; the player fits itself into it (fit: both).
       */
      .screen-box {
        position: relative;
        aspect-ratio: var(--ratio, 16 / 9);
        max-height: var(--tl-player-max-height, max(12rem, calc(100dvh - 14rem)));
        border-radius: var(--tl-radius-sm, 6px);
        overflow: hidden;
        background: var(--tl-term-bg, #0d1117);
        border: 1px solid var(--tl-border, #30363d);
      }
      .screen {
        position: absolute;
        inset: 0;
      }
      .screen-box.loading { aspect-ratio: auto; min-height: 14rem; }
      .screen-box.error { aspect-ratio: auto; }
      .screen .ap-wrapper { border-radius: 0; }
      .overlay {
        position: absolute;
        inset: 0;
        display: flex;
        flex-direction: column;
        align-items: center;
        justify-content: center;
        gap: 0.75rem;
        padding: 1.5rem;
        text-align: center;
        color: var(--tl-muted, #8b949e);
        font-size: 0.9375rem;
      }
      .overlay.error {
        position: static;
        align-items: flex-start;
        justify-content: flex-start;
        text-align: left;
        background: var(--tl-danger-bg, #3d1d20);
        color: var(--tl-text, #e6edf3);
      }
      .overlay.error strong { color: var(--tl-danger, #f85149); }
      .overlay.error p { margin: 0; overflow-wrap: anywhere; line-height: 1.5; }
      .toolbar {
        display: flex;
        align-items: center;
        gap: 0.75rem 1rem;
        flex-wrap: wrap;
        font-size: 0.8125rem;
        color: var(--tl-muted, #8b949e);
      }
      .toolbar label {
        display: inline-flex;
        align-items: center;
        gap: 0.375rem;
      }
      select {
        font: inherit;
        color: var(--tl-text, #e6edf3);
        background: var(--tl-surface-2, #21262d);
        border: 1px solid var(--tl-border-strong, #3d444d);
        border-radius: var(--tl-radius-sm, 6px);
        padding: 0.25rem 0.375rem;
      }
      select:focus-visible {
        outline: 2px solid var(--tl-accent, #58a6ff);
        outline-offset: 1px;
      }
      .toolbar .now {
        margin-left: auto;
        min-width: 0;
        overflow: hidden;
        text-overflow: ellipsis;
        white-space: nowrap;
      }
      nav.chapters {
        position: relative;
        min-width: 0;
        align-self: start;
        border: 1px solid var(--tl-border, #30363d);
        border-radius: var(--tl-radius-sm, 6px);
        background: var(--tl-surface, #161b22);
        max-height: 28rem;
        overflow-y: auto;
      }
      nav.chapters h3 {
        position: sticky;
        top: 0;
        z-index: 1;
        background: var(--tl-surface, #161b22);
        margin: 0;
        padding: 0.5rem 0.75rem;
        font-size: 0.75rem;
        font-weight: 600;
        letter-spacing: 0.04em;
        text-transform: uppercase;
        color: var(--tl-muted, #8b949e);
        border-bottom: 1px solid var(--tl-border, #30363d);
      }
      nav.chapters ol {
        list-style: none;
        margin: 0;
        padding: 0.25rem;
        display: flex;
        flex-direction: column;
        gap: 2px;
      }
      .chapter {
        font: inherit;
        font-size: 0.875rem;
        display: flex;
        align-items: center;
        width: 100%;
        gap: 0.5rem;
        min-height: 2rem;
        padding: 0.25rem 0.5rem;
        border: 1px solid transparent;
        border-radius: var(--tl-radius-sm, 6px);
        background: none;
        font-weight: 500;
        text-align: left;
        line-height: 1.3;
        color: var(--tl-muted, #8b949e);
        cursor: pointer;
        transition: background-color 120ms, border-color 120ms;
      }
      .chapter:focus-visible {
        outline: 2px solid var(--tl-accent, #58a6ff);
        outline-offset: 1px;
      }
      .chapter:hover {
        background: var(--tl-surface-2, #21262d);
        border-color: transparent;
        color: var(--tl-text, #e6edf3);
      }
      .chapter[aria-current='step'] {
        background: color-mix(in srgb, var(--tl-accent, #58a6ff) 16%, transparent);
        border-color: color-mix(in srgb, var(--tl-accent, #58a6ff) 45%, transparent);
        color: var(--tl-text, #e6edf3);
        font-weight: 600;
      }
      .chapter .num {
        flex: none;
        display: inline-grid;
        place-items: center;
        width: 1.375rem;
        height: 1.375rem;
        border-radius: 50%;
        font-size: 0.75rem;
        font-weight: 700;
        border: 1.5px solid var(--tl-border-strong, #3d444d);
      }
      .chapter[aria-current='step'] .num {
        border-color: var(--tl-accent, #58a6ff);
        color: var(--tl-accent, #58a6ff);
      }
      .chapter .label { flex: 1 1 auto; min-width: 0; }
      .chapter .at {
        flex: none;
        font-size: 0.75rem;
        font-variant-numeric: tabular-nums;
        color: var(--tl-muted, #8b949e);
        font-weight: 400;
      }
      :host([compact]) .toolbar, :host([compact]) nav.chapters { display: none; }
      :host([compact]) .wrap { grid-template-columns: minmax(0, 1fr); }
      /* The embed page: the player fills the frame. */
      :host([compact]) .screen-box {
        aspect-ratio: auto;
        height: 100vh;
        max-height: none;
        border: 0;
        border-radius: 0;
      }
    `,
  ];

  /** URL of a .cast file (fetched with the page's cookies). */
  @property() src = '';
  /** The .cast text itself (a local file); used instead of `src` when set. */
  @property({ attribute: false }) castText: string | undefined;
  /** What error messages call the recording ("hello.cast"). */
  @property() name = '';
  /** Playback speed, 1 is real time. */
  @property({ type: Number }) speed = 1;
  /** Pauses longer than this many seconds are cut (Infinity keeps them); unset: the file's own limit, else 2 s. */
  @property({ type: Number, attribute: 'idle-limit' }) idleLimit: number | undefined;
  @property({ type: Boolean }) autoplay = false;
  /** Only the player: no speed choice, no chapter list (the embed page). */
  @property({ type: Boolean, reflect: true }) compact = false;

  @state() private playerState: PlayerState = 'loading';
  @state() private error = '';
  @state() private recording: LoadedCast | undefined;
  @state() private chapter = -1;

  private readonly screen = createRef<HTMLDivElement>();
  private readonly player = new MutableDisposable<CastPlayer>();
  private loading: AbortController | undefined;

  /** loading, paused (ready or paused), playing, ended, or error. */
  get state(): PlayerState { return this.playerState; }
  /** The recording's markers. */
  get chapters(): readonly Chapter[] { return this.recording?.chapters ?? []; }
  /** Index of the chapter playing, -1 before the first marker. */
  get currentChapter(): number { return this.chapter; }
  /** Seconds on the player's timeline (pauses cut). */
  get currentTime(): number { return this.player.value?.currentTime ?? 0; }
  get duration(): number | undefined { return this.player.value?.duration; }
  /** Where chapter `index` starts on the player's timeline (seconds). */
  chapterTime(index: number): number { return this.player.value?.chapterTime(index) ?? 0; }

  async play(): Promise<void> { await this.player.value?.play(); }
  async pause(): Promise<void> { await this.player.value?.pause(); }
  /** Jumps to chapter `index` (from 0) and plays from there. */
  async playChapter(index: number): Promise<void> { await this.player.value?.playChapter(index); }

  override connectedCallback(): void {
    super.connectedCallback();
    // Moved in the page: the player is made again on the next update.
    if (this.hasUpdated) this.requestUpdate();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.loading?.abort();
    this.loading = undefined;
    this.player.clear();
  }

  private effectiveIdleLimit(recording: LoadedCast): number {
    return this.idleLimit ?? recording.cast.header.idle_time_limit ?? DEFAULT_IDLE_LIMIT;
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('src') || changed.has('castText')) void this.load();
  }

  // Untyped map: it also names private state (chapter).
  protected override updated(changed: PropertyValues): void {
    if (changed.has('chapter')) this.revealChapter();
    const recording = this.recording;
    const screen = this.screen.value;
    if (!recording || !screen || !this.isConnected) return;
    const options = { speed: this.speed > 0 ? this.speed : 1, idleLimit: this.effectiveIdleLimit(recording) };
    if (!this.player.value) {
      const player = new CastPlayer(screen, recording, options, this.autoplay);
      player.onStateChange((st) => this.setPlayerState(st));
      player.onChapterChange((index) => {
        this.chapter = index;
        this.emit<ChapterChangeDetail>('tl-chapter-change', { index, chapter: recording.chapters[index] });
      });
      this.player.value = player;
      this.setPlayerState(player.state);
    } else if (changed.has('speed') || changed.has('idleLimit')) {
      this.player.value.setOptions(options);
    }
  }

  /** Scrolls the chapter list (only it, not the page) to show the chapter playing. */
  private revealChapter(): void {
    const list = this.renderRoot.querySelector<HTMLElement>('nav.chapters');
    const item = list?.querySelector<HTMLElement>('[aria-current=step]');
    if (!list || !item || list.scrollHeight <= list.clientHeight) return;
    const top = item.offsetTop; // the list is the item's offsetParent (position: relative)
    if (top < list.scrollTop || top + item.offsetHeight > list.scrollTop + list.clientHeight) {
      list.scrollTo({ top: Math.max(0, top - list.clientHeight / 3) });
    }
  }

  private async load(): Promise<void> {
    this.loading?.abort();
    this.player.clear();
    this.recording = undefined;
    this.error = '';
    this.chapter = -1;
    this.setPlayerState('loading');
    const text = this.castText;
    const src = this.src;
    if (text === undefined && !src) return;
    const loading = new AbortController();
    this.loading = loading;
    try {
      const recording = text !== undefined ? readCast(text, this.name || 'This file') : await fetchCast(src, loading.signal, this.name || 'The recording');
      if (loading.signal.aborted) return;
      this.recording = recording;
    } catch (err) {
      if (loading.signal.aborted) return;
      this.error = err instanceof CastLoadError ? err.message : `The recording cannot be played: ${String(err)}`;
      this.setPlayerState('error');
    } finally {
      if (this.loading === loading) this.loading = undefined;
    }
  }

  private setPlayerState(st: PlayerState): void {
    if (st === this.playerState) return;
    this.playerState = st;
    this.emit<PlayerState>('tl-player-state', st);
  }

  private emit<T>(type: string, detail: T): void {
    this.dispatchEvent(new CustomEvent<T>(type, { detail, bubbles: true, composed: true }));
  }

  protected override render() {
    const recording = this.recording;
    const chapters = recording?.chapters ?? [];
    const showChapters = chapters.length > 0 && !this.compact;
    const st = this.playerState;
    return html`
      <div class="wrap ${showChapters ? 'has-chapters' : ''}" data-testid="player" data-state=${st}
           data-chapter=${this.chapter + 1} aria-busy=${st === 'loading' ? 'true' : 'false'}>
        <div class="stage">
          <div class="screen-box ${st === 'error' ? 'error' : ''} ${!recording && st !== 'error' ? 'loading' : ''}"
               style=${recording ? `--ratio: ${screenRatio(recording)}` : ''}>
            <div class="screen" part="screen" ${ref(this.screen)}></div>
            ${st === 'error'
              ? html`<div class="overlay error" role="alert" data-testid="player-error">
                  <strong>Cannot play this recording</strong>
                  <p>${this.error}</p>
                </div>`
              : !recording
                ? html`<div class="overlay"><span class="spinner" aria-hidden="true"></span>Loading the recording…</div>`
                : nothing}
          </div>
          ${recording ? this.renderToolbar(recording) : nothing}
        </div>
        ${showChapters ? this.renderChapters(chapters) : nothing}
      </div>
    `;
  }

  private renderToolbar(recording: LoadedCast) {
    const idle = this.effectiveIdleLimit(recording);
    const limits = IDLE_LIMITS.includes(idle) ? IDLE_LIMITS : [...IDLE_LIMITS, idle].sort((a, b) => a - b);
    const speeds = SPEEDS.includes(this.speed) ? SPEEDS : [...SPEEDS, this.speed].sort((a, b) => a - b);
    const current = recording.chapters[this.chapter];
    return html`
      <div class="toolbar">
        <label>Speed
          <select data-testid="player-speed" @change=${(ev: Event) => { this.speed = Number((ev.target as HTMLSelectElement).value); }}>
            ${speeds.map((s) => html`<option value=${s} ?selected=${s === this.speed}>${s}×</option>`)}
          </select>
        </label>
        <label title="Long pauses in the recording are shortened to this">
          <select data-testid="player-idle" aria-label="Pauses" @change=${(ev: Event) => { this.idleLimit = Number((ev.target as HTMLSelectElement).value); }}>
            ${limits.map((l) => html`<option value=${l} ?selected=${l === idle}>${limitLabel(l)}</option>`)}
          </select>
        </label>
        ${current ? html`<span class="now" aria-live="polite">Now: ${current.label}</span>` : nothing}
      </div>
    `;
  }

  private renderChapters(chapters: readonly Chapter[]) {
    return html`
      <nav class="chapters" part="chapters" aria-label="Chapters">
        <h3>Chapters</h3>
        <ol>
          ${chapters.map((c) => {
            const title = c.step !== undefined ? c.label.replace(/^\d+\.\s*/, '') : c.label;
            const at = this.player.value ? this.player.value.chapterTime(c.index) : c.time;
            return html`<li>
              <button class="chapter" data-testid="chapter-${c.index + 1}" data-step=${c.step ?? nothing}
                      aria-current=${c.index === this.chapter ? 'step' : nothing}
                      title="Play from here" @click=${() => void this.playChapter(c.index)}>
                <span class="num" aria-hidden="true">${c.step ?? (c.label === 'Finished' ? '✓' : c.index + 1)}</span>
                <span class="label">${title}</span>
                <span class="at">${formatClock(at)}</span>
              </button>
            </li>`;
          })}
        </ol>
      </nav>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tl-player': TlPlayer;
  }
  interface HTMLElementEventMap {
    'tl-player-state': TlPlayerStateEvent;
    'tl-chapter-change': TlChapterChangeEvent;
  }
}
