import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { SeatRow, SeatStep, StepSummary, WorkshopRole } from '../../protocol/workshops.js';
import { formatDuration } from '../controllers/clock-controller.js';
import { sortedRows, stepStats } from '../lab/room-state.js';
import { buttonStyles } from './shared-styles.js';

export interface SeatActionDetail { action: 'view' | 'reset'; seat: string; name: string }

const STATE_TEXT: Record<SeatStep['state'], string> = {
  'not-reached': 'not reached', current: 'working on it', passed: 'passed', failing: 'failing',
};

/**
 * One lab's seat × step grid: a row per learner (raised hands and stuck first), a cell per step
 * (not reached, current with how long, passed, failing with the count), and per step how many passed
 * and the median time.
 * @fires tl-seat-action - `CustomEvent<SeatActionDetail>`: View or Reset pressed on a row.
 */
@customElement('tl-room-grid')
export class TlRoomGrid extends LitElement {
  static override styles = [buttonStyles, css`
    :host { display: block; overflow-x: auto; }
    table { border-collapse: collapse; font-size: 0.875rem; }
    th, td { border-bottom: 1px solid var(--tl-border); padding: 0.375rem 0.5rem; text-align: left; white-space: nowrap; }
    th { color: var(--tl-muted); font-weight: 600; vertical-align: bottom; }
    th.step { max-width: 8rem; overflow: hidden; text-overflow: ellipsis; }
    tfoot td { color: var(--tl-muted); font-size: 0.8125rem; }
    td.cell { text-align: center; min-width: 4.5rem; }
    .cell[data-state='passed'] { background: color-mix(in srgb, var(--tl-ok) 30%, transparent); }
    .cell[data-state='failing'] { background: color-mix(in srgb, var(--tl-danger) 35%, transparent); }
    .cell[data-state='current'] { background: color-mix(in srgb, var(--tl-accent) 18%, transparent); }
    .cell[data-state='not-reached'] { color: var(--tl-muted); }
    .cell .earlier { font-size: 0.75rem; color: var(--tl-ok); }
    .name { font-weight: 600; }
    .flags { display: inline-flex; gap: 0.25rem; margin-left: 0.375rem; }
    .flag { font-size: 0.6875rem; font-weight: 700; padding: 0.0625rem 0.375rem; border-radius: 999px; }
    .flag.hand { background: var(--tl-warn); color: #0d1117; }
    .flag.stuck { background: var(--tl-danger); color: #fff; }
    .flag.off { color: var(--tl-muted); border: 1px solid var(--tl-border-strong); }
    .flag.control { background: var(--tl-accent); color: #0d1117; }
    .actions { display: flex; gap: 0.25rem; }
  `];

  @property() lab = '';
  @property({ attribute: false }) steps: StepSummary[] = [];
  @property({ attribute: false }) rows: SeatRow[] = [];
  @property({ attribute: false }) viewerRole: WorkshopRole = 'assistant';
  @property({ type: Number }) now = Date.now();

  private act(action: SeatActionDetail['action'], row: SeatRow): void {
    this.dispatchEvent(new CustomEvent<SeatActionDetail>('tl-seat-action', {
      detail: { action, seat: row.seat, name: row.name }, bubbles: true, composed: true,
    }));
  }

  protected override render() {
    const rows = sortedRows(this.rows);
    const stats = stepStats(rows, this.steps.length);
    return html`<table data-testid="grid-${this.lab}">
      <thead><tr><th>Learner</th>${this.steps.map((s, i) => html`<th class="step" title=${s.title}>${i + 1}. ${s.title}</th>`)}<th></th></tr></thead>
      <tbody>${rows.map((row) => this.renderRow(row))}</tbody>
      <tfoot><tr><td>${rows.length} learner${rows.length === 1 ? '' : 's'}</td>
        ${stats.map((s, i) => html`<td data-testid="step-stat-${i + 1}" data-passed=${s.passed}>${s.passed} passed${s.medianMs !== undefined
          ? html`<br>median ${formatDuration(s.medianMs)}` : nothing}</td>`)}<td></td></tr></tfoot>
    </table>`;
  }

  private renderRow(row: SeatRow) {
    return html`<tr data-testid="seat-row" data-seat=${row.seat} data-name=${row.name} data-hand=${row.hand} data-stuck=${row.stuck}>
      <td><span class="name">${row.name}</span><span class="flags">
        ${row.hand ? html`<span class="flag hand" title="Hand raised">hand up</span>` : nothing}
        ${row.stuck ? html`<span class="flag stuck" title=${row.stuckReason ?? 'Stuck'}>stuck</span>` : nothing}
        ${row.control === 'instructor' ? html`<span class="flag control">you have control</span>` : nothing}
        ${row.online ? nothing : html`<span class="flag off" title="The learner's page is not connected">offline</span>`}
        ${row.finished ? html`<span class="flag off">finished</span>` : nothing}
      </span></td>
      ${this.steps.map((_, i) => this.renderCell(row, i))}
      <td class="actions">
        <button class="small" data-testid="view-${row.seat}" @click=${() => this.act('view', row)}>View</button>
        ${this.viewerRole === 'instructor' ? html`<button class="small" data-testid="reset-${row.seat}" @click=${() => this.act('reset', row)}>Reset</button>` : nothing}
      </td>
    </tr>`;
  }

  private renderCell(row: SeatRow, index: number) {
    const step = row.steps[index] ?? { state: 'not-reached', attempts: 0, failures: 0, failStreak: 0, hintsUsed: 0 };
    // After a reset the new box starts the lab again, but what the learner passed before still counts.
    const earlier = step.state !== 'passed' && step.passedAt !== undefined;
    const title = `${row.name}, step ${index + 1}: ${STATE_TEXT[step.state]}${earlier ? ' (passed before a reset)' : ''}; `
      + `${step.attempts} checks, ${step.failures} failed, ${step.hintsUsed} hints`;
    return html`<td class="cell" data-testid="cell-${row.seat}-${index + 1}" data-state=${step.state} data-failures=${step.failures}
                    data-passed-before=${earlier ? 'true' : nothing} title=${title}>
      ${this.cellText(step)}${earlier ? html` <span class="earlier">✓ before</span>` : nothing}</td>`;
  }

  private cellText(step: SeatStep) {
    switch (step.state) {
      case 'passed': return '✓';
      case 'failing': return `✗ ${step.failures}`;
      case 'current': return step.since !== undefined ? formatDuration(this.now - step.since) : '…';
      default: return '·';
    }
  }
}

declare global {
  interface HTMLElementTagNameMap { 'tl-room-grid': TlRoomGrid }
  interface HTMLElementEventMap { 'tl-seat-action': CustomEvent<SeatActionDetail> }
}
