import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { ReportRow } from '../../protocol/workshops.js';
import { errorText } from '../api.js';
import { formatDuration } from '../controllers/clock-controller.js';
import { buttonStyles, pageStyles } from '../components/shared-styles.js';
import { onLinkClick, paths, type Route } from '../routes.js';
import { getReport, workshopUrls } from '../workshop-api.js';

/** /workshops/:id/report: per seat and step, status, attempts, failures, first pass, time, hints, recording; and the CSV. */
@customElement('tl-report-page')
export class TlReportPage extends LitElement {
  static override styles = [buttonStyles, pageStyles, css`
    .list-inner { max-width: 1400px; }
    .table { overflow-x: auto; }
    td[data-status='passed'] { color: var(--tl-ok); }
    td[data-status='failing'] { color: var(--tl-danger); }
    .links { display: flex; gap: 1rem; margin-bottom: 1rem; }
  `];

  @property({ attribute: false }) route: Route | undefined;

  @state() private rows: ReportRow[] | undefined;
  @state() private error = '';
  private loaded = '';

  private get workshopId(): string {
    return this.route?.page === 'workshop-report' ? this.route.id : '';
  }

  protected override willUpdate(): void {
    if (this.workshopId && this.workshopId !== this.loaded) {
      this.loaded = this.workshopId;
      document.title = 'Workshop report · termlab';
      void this.load();
    }
  }

  private async load(): Promise<void> {
    try {
      this.rows = await getReport(this.workshopId);
      this.error = '';
    } catch (err) {
      this.error = `The report could not be loaded: ${errorText(err)}. Open the instructor or assistant link of this workshop in this browser, then come back.`;
    }
  }

  protected override render() {
    const id = this.workshopId;
    return html`<main class="list"><div class="list-inner">
      <div class="intro"><h1>Workshop report</h1></div>
      <div class="links">
        <a href=${paths.dashboard(id)} @click=${(ev: MouseEvent) => onLinkClick(ev, paths.dashboard(id))}>Back to the dashboard</a>
        <a href=${workshopUrls.csv(id)} download data-testid="report-csv">Download CSV</a>
      </div>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      ${this.rows ? this.renderTable(this.rows) : this.error ? nothing : html`<p class="muted">Loading…</p>`}
    </div></main>`;
  }

  private renderTable(rows: ReportRow[]) {
    if (rows.length === 0) return html`<p class="muted" data-testid="report-empty">Nobody joined this workshop.</p>`;
    return html`<div class="table"><table data-testid="report-table">
      <thead><tr><th>Learner</th><th>Lab</th><th>Step</th><th>Status</th><th>Attempts</th><th>Failures</th><th>First pass</th>
        <th>Time spent</th><th>Hints</th><th>Recording</th></tr></thead>
      <tbody>${rows.map((r) => html`<tr data-testid="report-row">
        <td>${r.name}</td><td>${r.lab}</td><td>${r.step}. ${r.stepTitle}</td><td data-status=${r.status}>${r.status}</td>
        <td>${r.attempts}</td><td>${r.failures}</td>
        <td>${r.firstPassAt ? new Date(r.firstPassAt).toLocaleTimeString() : ''}</td>
        <td>${r.timeSpentMs ? formatDuration(r.timeSpentMs) : ''}</td><td>${r.hintsUsed}</td>
        <td>${r.recordingUrl ? html`<a href=${r.recordingUrl} target="_blank" rel="noopener">watch</a>` : ''}</td></tr>`)}</tbody>
    </table></div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'tl-report-page': TlReportPage }
}
