import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { MAX_BROADCAST_CHARS, type WorkshopState } from '../../protocol/workshops.js';
import { errorText } from '../api.js';
import { onLinkClick, paths } from '../routes.js';
import { workshopActions } from '../workshop-api.js';
import { buttonStyles, pageStyles } from './shared-styles.js';

/**
 * What the staff does to the whole room: broadcast a message, extend the time, pace the steps, end
 * the workshop (the instructor only); and the report link.
 */
@customElement('tl-room-actions')
export class TlRoomActions extends LitElement {
  static override styles = [buttonStyles, pageStyles, css`
    :host { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
    .box { display: flex; flex-direction: column; gap: 0.5rem; }
    .row { display: flex; gap: 0.5rem; align-items: center; flex-wrap: wrap; }
    textarea { width: min(32rem, 80vw); min-height: 3.5rem; font-family: inherit; }
    .status { font-size: 0.875rem; }
  `];

  @property({ attribute: false }) state!: WorkshopState;

  @state() private busy = '';
  @state() private message = '';
  @state() private error = '';
  /** End was pressed once: ask before ending for everyone. */
  @state() private confirmEnd = false;

  private async run(what: string, action: () => Promise<unknown>, done: string): Promise<void> {
    this.busy = what;
    this.error = '';
    this.message = '';
    try {
      await action();
      this.message = done;
    } catch (err) {
      this.error = `Could not ${what}: ${errorText(err)}`;
    } finally {
      this.busy = '';
    }
  }

  private broadcast(ev: SubmitEvent): void {
    ev.preventDefault();
    const area = this.renderRoot.querySelector<HTMLTextAreaElement>('textarea')!;
    const text = area.value.trim();
    if (!text) {
      this.error = 'Type a message first.';
      return;
    }
    void this.run('broadcast', () => workshopActions.broadcast(this.state.id, text), 'Sent to every learner.').then(() => {
      if (!this.error) area.value = '';
    });
  }

  private end(): void {
    this.confirmEnd = false;
    void this.run('end the workshop', () => workshopActions.end(this.state.id), 'The workshop has ended.');
  }

  protected override render() {
    const open = this.state.phase !== 'ended';
    return html`
      ${open ? html`<form class="box" @submit=${this.broadcast}>
        <label class="field" style="margin:0">Message to every learner <span class="help">Code in \`backticks\` gets a Copy button.</span>
          <textarea data-testid="broadcast-text" maxlength=${MAX_BROADCAST_CHARS}></textarea></label>
        <div class="row"><button class="primary small" data-testid="broadcast-send" ?disabled=${this.busy !== ''}>Broadcast</button></div>
      </form>` : nothing}
      <div class="box">
        ${open ? this.renderRoomControls() : nothing}
        <div class="row"><a href=${paths.report(this.state.id)} data-testid="report-link"
             @click=${(ev: MouseEvent) => onLinkClick(ev, paths.report(this.state.id))}>Report</a></div>
        ${this.message ? html`<span class="status" role="status" data-testid="action-done">${this.message}</span>` : nothing}
        ${this.error ? html`<span class="status error" role="alert">${this.error}</span>` : nothing}
      </div>`;
  }

  private renderRoomControls() {
    const id = this.state.id;
    const instructor = this.state.role === 'instructor';
    const steps = Math.max(...this.state.labs.map((l) => l.steps.length), 1);
    return html`
      <div class="row">
        <button class="small" data-testid="extend-15" ?disabled=${this.busy !== ''}
                @click=${() => void this.run('extend', () => workshopActions.extend(id, 15), 'Extended by 15 minutes.')}>+15 min</button>
        <button class="small" data-testid="extend-5" ?disabled=${this.busy !== ''}
                @click=${() => void this.run('extend', () => workshopActions.extend(id, 5), 'Extended by 5 minutes.')}>+5 min</button>
        ${instructor ? html`<button class="small danger" data-testid="end-workshop" ?disabled=${this.busy !== '' || this.confirmEnd}
                @click=${() => { this.confirmEnd = true; }}>End workshop</button>` : nothing}
      </div>
      ${this.confirmEnd ? html`<div class="row" role="alert">End now? Every learner's lab closes and their boxes are removed; the report stays.
          <button class="small danger" data-testid="end-workshop-confirm" @click=${this.end}>End now</button>
          <button class="small" @click=${() => { this.confirmEnd = false; }}>Cancel</button></div>` : nothing}
      <div class="row"><label class="muted" for="pace">Pace: steps up to</label>
        <select id="pace" data-testid="pace" @change=${(ev: Event) => {
          const n = Number((ev.target as HTMLSelectElement).value);
          void this.run('pace the room', () => workshopActions.pace(id, n || steps), n ? `Steps after ${n} are locked.` : 'Every step is open.');
        }}>
          <option value="0" ?selected=${!this.state.unlockedStep || this.state.unlockedStep >= steps}>all open</option>
          ${Array.from({ length: steps }, (_, i) => html`<option value=${i + 1} ?selected=${this.state.unlockedStep === i + 1}>${i + 1}</option>`)}
        </select></div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'tl-room-actions': TlRoomActions }
}
