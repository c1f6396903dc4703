import { LitElement, css, html, nothing } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { repeat } from 'lit/directives/repeat.js';
import type { LabSummary, RecordingInfo } from '../../protocol/api.js';
import { castUrl, deleteRecording, errorText, listLabs, listRecordings, shareUrl } from '../api.js';
import { copyText } from '../clipboard.js';
import { buttonStyles } from './shared-styles.js';
import { formatClock } from '../controllers/clock-controller.js';
import './tl-player.js';

/** What the player panel plays: one of the list's recordings, or a file from this computer. */
type Playing =
  | { kind: 'recording'; recording: RecordingInfo }
  | { kind: 'file'; name: string; text: string };

/** Larger local files are refused before reading them (a lab recording is a few MB at most). */
const MAX_LOCAL_BYTES = 64 * 1024 * 1024;

/** The HTML to paste into another page to show a shared recording. */
export function embedSnippet(share: string, title: string): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<iframe src="${esc(shareUrl.embed(share))}" title="${esc(title)}" width="800" height="480" style="border:0" allowfullscreen></iframe>`;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * The Recordings page: this browser's recordings (the learner cookie), newest first, filtered by
 * lab; each can be played here, downloaded as a .cast file, shared (a read-only link and an
 * embed snippet) and deleted. "Play a local .cast file" plays a file from this computer after
 * checking it.
 */
@customElement('tl-recordings')
export class TlRecordings extends LitElement {
  static override styles = [
    buttonStyles,
    css`
      :host { display: block; }
      .bar {
        display: flex;
        align-items: center;
        gap: 0.75rem;
        flex-wrap: wrap;
        margin-bottom: 1rem;
      }
      .bar label {
        display: inline-flex;
        align-items: center;
        gap: 0.5rem;
        font-size: 0.875rem;
        color: var(--tl-muted, #8b949e);
      }
      .bar .spacer { flex: 1 1 auto; }
      select {
        font: inherit;
        font-size: 0.875rem;
        color: var(--tl-text, #e6edf3);
        background: var(--tl-surface-2, #21262d);
        border: 1px solid var(--tl-border-strong, #3d444d);
        border-radius: var(--tl-radius-sm, 6px);
        padding: 0.375rem 0.5rem;
        max-width: 18rem;
      }
      .file-input {
        position: absolute;
        width: 1px;
        height: 1px;
        opacity: 0;
        pointer-events: none;
      }
      .panel, .row, .message {
        border: 1px solid var(--tl-border, #30363d);
        border-radius: var(--tl-radius, 10px);
        background: var(--tl-surface, #161b22);
      }
      .panel {
        padding: 1rem;
        margin-bottom: 1.25rem;
      }
      .panel-head {
        display: flex;
        align-items: center;
        gap: 0.75rem;
        margin-bottom: 0.75rem;
      }
      .panel-head h2 {
        flex: 1 1 auto;
        min-width: 0;
        margin: 0;
        font-size: 1rem;
        overflow: hidden;
        text-overflow: ellipsis;
        white-space: nowrap;
      }
      ul.list {
        list-style: none;
        margin: 0;
        padding: 0;
        display: flex;
        flex-direction: column;
        gap: 0.625rem;
      }
      .row { padding: 0.875rem 1rem; }
      .row.selected { border-color: var(--tl-accent, #58a6ff); }
      .row-main {
        display: flex;
        align-items: center;
        gap: 1rem;
        flex-wrap: wrap;
      }
      .info { flex: 1 1 18rem; min-width: 0; }
      .title {
        margin: 0 0 0.25rem;
        font-weight: 600;
        overflow-wrap: anywhere;
      }
      .meta {
        display: flex;
        gap: 0.25rem 0.875rem;
        flex-wrap: wrap;
        font-size: 0.8125rem;
        color: var(--tl-muted, #8b949e);
        font-variant-numeric: tabular-nums;
      }
      .badge {
        font-size: 0.75rem;
        padding: 0 0.5rem;
        border-radius: 999px;
        border: 1px solid var(--tl-border-strong, #3d444d);
      }
      .badge.live { color: var(--tl-danger, #f85149); border-color: color-mix(in srgb, var(--tl-danger, #f85149) 50%, transparent); }
      .badge.keys { color: var(--tl-warn, #d29922); border-color: color-mix(in srgb, var(--tl-warn, #d29922) 50%, transparent); }
      .actions {
        display: flex;
        gap: 0.375rem;
        flex-wrap: wrap;
      }
      a.button {
        font-size: 0.8125rem;
        font-weight: 600;
        display: inline-flex;
        align-items: center;
        min-height: 1.75rem;
        padding: 0 0.625rem;
        border-radius: var(--tl-radius-sm, 6px);
        border: 1px solid var(--tl-border-strong, #3d444d);
        background: var(--tl-surface-2, #21262d);
        color: var(--tl-text, #e6edf3);
        text-decoration: none;
      }
      a.button:hover {
        background: var(--tl-surface-3, #30363d);
        border-color: var(--tl-muted, #8b949e);
      }
      a.button:focus-visible {
        outline: 2px solid var(--tl-accent, #58a6ff);
        outline-offset: 2px;
      }
      .share {
        margin-top: 0.875rem;
        padding-top: 0.875rem;
        border-top: 1px solid var(--tl-border, #30363d);
        display: grid;
        grid-template-columns: max-content minmax(0, 1fr) max-content;
        gap: 0.5rem 0.75rem;
        align-items: center;
        font-size: 0.8125rem;
      }
      .share label { color: var(--tl-muted, #8b949e); }
      .share input, .share textarea {
        font-family: var(--tl-mono, monospace);
        font-size: 0.75rem;
        color: var(--tl-text, #e6edf3);
        background: var(--tl-bg, #0b0e13);
        border: 1px solid var(--tl-border, #30363d);
        border-radius: var(--tl-radius-sm, 6px);
        padding: 0.375rem 0.5rem;
        min-width: 0;
        resize: none;
      }
      .share .note {
        grid-column: 1 / -1;
        margin: 0;
        color: var(--tl-muted, #8b949e);
      }
      .confirm {
        display: inline-flex;
        align-items: center;
        gap: 0.375rem;
        font-size: 0.8125rem;
      }
      .message {
        padding: 1rem;
        color: var(--tl-muted, #8b949e);
      }
      .error-text { color: var(--tl-danger, #f85149); }
      .copied { color: var(--tl-ok, #3fb950); }
      @media (max-width: 600px) {
        .share { grid-template-columns: minmax(0, 1fr); }
      }
    `,
  ];

  @state() private recordings: RecordingInfo[] | undefined;
  @state() private labs: LabSummary[] = [];
  @state() private lab = '';
  @state() private loadError = '';
  @state() private playing: Playing | undefined;
  @state() private sharing: string | undefined;
  @state() private confirming: string | undefined;
  @state() private rowError: { id: string; message: string } | undefined;
  @state() private fileError = '';
  /** Which copy button just worked ("link:<id>", "embed:<id>"), for its "Copied" label. */
  @state() private copied = '';

  private loading: AbortController | undefined;
  private copiedTimer: ReturnType<typeof setTimeout> | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
    listLabs().then(({ labs }) => { this.labs = labs; }, () => { /* the filter offers the labs seen in the list */ });
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.loading?.abort();
    clearTimeout(this.copiedTimer);
  }

  /** Fetches the list again (for the chosen lab). */
  async load(): Promise<void> {
    this.loading?.abort();
    const loading = new AbortController();
    this.loading = loading;
    this.loadError = '';
    try {
      const recordings = await listRecordings(this.lab || undefined, loading.signal);
      if (loading.signal.aborted) return;
      this.recordings = recordings;
    } catch (err) {
      if (loading.signal.aborted) return;
      this.loadError = errorText(err);
    } finally {
      if (this.loading === loading) this.loading = undefined;
    }
  }

  private setLab(lab: string): void {
    this.lab = lab;
    this.recordings = undefined;
    void this.load();
  }

  private play(recording: RecordingInfo): void {
    this.playing = { kind: 'recording', recording };
    void this.updateComplete.then(() => this.renderRoot.querySelector('.panel')?.scrollIntoView({ block: 'nearest' }));
  }

  private async onFile(ev: Event): Promise<void> {
    const input = ev.target as HTMLInputElement;
    const file = input.files?.[0];
    input.value = ''; // choosing the same file again plays it again
    if (!file) return;
    this.fileError = '';
    if (file.size > MAX_LOCAL_BYTES) {
      this.fileError = `${file.name} is ${formatBytes(file.size)}: too large to play here.`;
      return;
    }
    try {
      this.playing = { kind: 'file', name: file.name, text: await file.text() };
    } catch (err) {
      this.fileError = `Could not read ${file.name}: ${errorText(err)}`;
    }
  }

  private async copy(key: string, text: string): Promise<void> {
    if (!(await copyText(text, this.renderRoot))) return;
    this.copied = key;
    clearTimeout(this.copiedTimer);
    this.copiedTimer = setTimeout(() => { this.copied = ''; }, 2000);
  }

  private share(recording: RecordingInfo): void {
    const open = this.sharing !== recording.id;
    this.sharing = open ? recording.id : undefined;
    if (open) void this.copy(`link:${recording.id}`, shareUrl.watch(recording.share));
  }

  private async removeRecording(recording: RecordingInfo): Promise<void> {
    this.confirming = undefined;
    this.rowError = undefined;
    try {
      await deleteRecording(recording.id);
      this.recordings = this.recordings?.filter((r) => r.id !== recording.id);
      if (this.playing?.kind === 'recording' && this.playing.recording.id === recording.id) this.playing = undefined;
    } catch (err) {
      this.rowError = { id: recording.id, message: `Could not delete: ${errorText(err)}` };
    }
  }

  protected override render() {
    const labIds = new Set([...this.labs.map((l) => l.id), ...(this.recordings ?? []).map((r) => r.lab)]);
    const labTitle = (id: string) => this.labs.find((l) => l.id === id)?.title ?? id;
    return html`
      <div class="bar">
        <label>Lab
          <select data-testid="recordings-lab" @change=${(ev: Event) => this.setLab((ev.target as HTMLSelectElement).value)}>
            <option value="" ?selected=${this.lab === ''}>All labs</option>
            ${[...labIds].map((id) => html`<option value=${id} ?selected=${this.lab === id}>${labTitle(id)}</option>`)}
          </select>
        </label>
        <button class="small" @click=${() => this.load()} title="Fetch the list again">Refresh</button>
        <span class="spacer"></span>
        <input class="file-input" id="local-cast" type="file" data-testid="local-cast-input"
               accept=".cast,application/x-asciicast,application/json,text/plain" @change=${this.onFile}>
        <button class="small" data-testid="local-cast" title="Play an asciicast (.cast) file from this computer"
                @click=${() => this.renderRoot.querySelector<HTMLInputElement>('#local-cast')?.click()}>
          Play a local .cast file…
        </button>
      </div>
      ${this.fileError ? html`<p class="message error-text" role="alert">${this.fileError}</p>` : nothing}
      ${this.playing ? this.renderPlayer(this.playing) : nothing}
      ${this.renderList(labTitle)}
    `;
  }

  private renderPlayer(playing: Playing) {
    const title = playing.kind === 'file' ? playing.name : playing.recording.title;
    return html`
      <section class="panel" data-testid="now-playing" aria-label="Player">
        <div class="panel-head">
          <h2 title=${title}>${title}</h2>
          <button class="small" data-testid="close-player" @click=${() => { this.playing = undefined; }}>Close</button>
        </div>
        ${playing.kind === 'file'
          ? html`<tl-player .castText=${playing.text} name=${playing.name} autoplay></tl-player>`
          : html`<tl-player src=${castUrl.recording(playing.recording.id)} name=${playing.recording.title} autoplay></tl-player>`}
      </section>
    `;
  }

  private renderList(labTitle: (id: string) => string) {
    if (this.loadError) {
      return html`<div class="message" role="alert" data-testid="recordings-error">
        <span class="error-text">Could not load your recordings: ${this.loadError}</span>
        <button class="small" @click=${() => this.load()}>Retry</button>
      </div>`;
    }
    if (!this.recordings) return html`<p class="message" aria-busy="true"><span class="spinner"></span> Loading recordings…</p>`;
    if (this.recordings.length === 0) {
      return html`<p class="message" data-testid="recordings-empty">
        ${this.lab ? `No recordings of ${labTitle(this.lab)} yet.` : 'No recordings yet.'}
        Start a lab and press <strong>Record</strong> in its header: what happens in the terminal is kept here, to watch again or share.
      </p>`;
    }
    return html`<ul class="list">${repeat(this.recordings, (r) => r.id, (r) => this.renderRow(r, labTitle))}</ul>`;
  }

  private renderRow(r: RecordingInfo, labTitle: (id: string) => string) {
    const selected = this.playing?.kind === 'recording' && this.playing.recording.id === r.id;
    const error = this.rowError?.id === r.id ? this.rowError.message : '';
    return html`
      <li class="row ${selected ? 'selected' : ''}" data-testid="recording-${r.id}">
        <div class="row-main">
          <div class="info">
            <p class="title">${r.title}</p>
            <div class="meta">
              <span>${labTitle(r.lab)}</span>
              <span>${new Date(r.createdAt).toLocaleString()}</span>
              ${r.recording ? html`<span class="badge live">● recording</span>` : html`<span>${formatClock(r.durationS)}</span>`}
              ${r.recording ? nothing : html`<span>${formatBytes(r.bytes)}</span>`}
              ${r.input ? html`<span class="badge keys" title="Keystrokes were recorded too">keystrokes</span>` : nothing}
            </div>
          </div>
          <div class="actions">
            <button class="small primary" data-testid="play" ?disabled=${r.recording}
                    title=${r.recording ? 'Still recording: stop it in the lab first' : 'Play it here'} @click=${() => this.play(r)}>Play</button>
            <a class="button" data-testid="download" href=${castUrl.recording(r.id)} download title="Download the .cast file">Download</a>
            <button class="small" data-testid="share" aria-expanded=${this.sharing === r.id ? 'true' : 'false'}
                    @click=${() => this.share(r)}>Share</button>
            ${this.confirming === r.id
              ? html`<span class="confirm">Delete for good?
                  <button class="small danger" data-testid="confirm-delete" @click=${() => void this.removeRecording(r)}>Delete</button>
                  <button class="small" @click=${() => { this.confirming = undefined; }}>Keep</button>
                </span>`
              : html`<button class="small danger" data-testid="delete" @click=${() => { this.confirming = r.id; }}>Delete</button>`}
          </div>
        </div>
        ${error ? html`<p class="error-text" role="alert">${error}</p>` : nothing}
        ${this.sharing === r.id ? this.renderShare(r) : nothing}
      </li>
    `;
  }

  private renderShare(r: RecordingInfo) {
    const link = shareUrl.watch(r.share);
    const snippet = embedSnippet(r.share, r.title);
    const select = (ev: Event) => (ev.target as HTMLInputElement).select();
    return html`
      <div class="share" data-testid="share-panel">
        <label for="link-${r.id}">Link</label>
        <input id="link-${r.id}" data-testid="share-link" readonly .value=${link} @focus=${select}>
        <button class="small" data-testid="copy-link" @click=${() => void this.copy(`link:${r.id}`, link)}>
          ${this.copied === `link:${r.id}` ? html`<span class="copied">Copied ✓</span>` : 'Copy link'}
        </button>
        <label for="embed-${r.id}">Embed</label>
        <textarea id="embed-${r.id}" data-testid="embed-snippet" rows="2" readonly .value=${snippet} @focus=${select}></textarea>
        <button class="small" data-testid="copy-embed" @click=${() => void this.copy(`embed:${r.id}`, snippet)}>
          ${this.copied === `embed:${r.id}` ? html`<span class="copied">Copied ✓</span>` : 'Copy HTML'}
        </button>
        <p class="note">Anyone with the link can watch this recording (not change or delete it). Deleting the recording ends the link.</p>
      </div>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tl-recordings': TlRecordings;
  }
}
