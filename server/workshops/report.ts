// The end-of-workshop report: one row per seat and step, as JSON or as CSV for a spreadsheet.
// Learners choose their display names, so every cell is escaped against formula injection.
import type { ReportRow } from '../../protocol/workshops.js';
import type { Lab } from '../labs/lab-loader.js';
import { timeSpent } from './seat-steps.js';
import type { SeatRecord } from './workshop-store.js';

/** Rows by seat, then by the workshop's lab order (labs a seat has not reached have none), then step. */
export function reportRows(seats: SeatRecord[], order: string[], labs: Map<string, Lab>, recordingUrl: (seat: SeatRecord) => string | undefined, now: number): ReportRow[] {
  const rows: ReportRow[] = [];
  for (const seat of seats) {
    const url = recordingUrl(seat);
    for (const labId of order) {
      const steps = labId === seat.lab ? seat.steps : seat.past[labId];
      const lab = labs.get(labId);
      steps?.forEach((s, i) => rows.push({
        seat: seat.seat, name: seat.name, lab: labId, step: i + 1, stepTitle: lab?.steps[i]?.title ?? '',
        // A step passed before a reset counts as passed: the report is about what the learner did.
        status: s.passedAt !== undefined ? 'passed' : s.state,
        attempts: s.attempts, failures: s.failures, firstPassAt: s.passedAt, timeSpentMs: timeSpent(s, now), hintsUsed: s.hintsUsed,
        recordingUrl: url,
      }));
    }
  }
  return rows;
}

const COLUMNS: Array<keyof ReportRow> = ['seat', 'name', 'lab', 'step', 'stepTitle', 'status', 'attempts', 'failures', 'firstPassAt', 'timeSpentMs', 'hintsUsed', 'recordingUrl'];

/**
 * One CSV cell: a leading = + - @ (or tab / carriage return, which some spreadsheets skip before
 * reading a formula) gets a ' in front so it is shown as text, then RFC 4180 quoting.
 */
export function csvCell(value: unknown): string {
  let text = value === undefined || value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function reportCsv(rows: ReportRow[]): string {
  const lines = [COLUMNS.join(',')];
  for (const row of rows) {
    lines.push(COLUMNS.map((c) => {
      const v = row[c];
      // Times as ISO text: a spreadsheet reads them, and they cannot start with a sign.
      if (c === 'firstPassAt' && typeof v === 'number') return csvCell(new Date(v).toISOString());
      return csvCell(v);
    }).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}
