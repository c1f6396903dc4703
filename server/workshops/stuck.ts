// Who needs help: a seat is stuck when its last checks on one step failed several times in a row,
// or when it has been on its step much longer than the class took for it. Thresholds: config.ts.
import type { SeatStep } from '../../protocol/workshops.js';
import type { WorkshopSettings } from '../config.js';
import { median, timeSpent } from './seat-steps.js';

/** Per step (0-based), the class median time from reaching the step to passing it. */
export function stepMedians(seats: SeatStep[][], count: number): Array<number | undefined> {
  return Array.from({ length: count }, (_, i) =>
    median(seats.map((steps) => steps[i]).filter((s): s is SeatStep => s?.passedAt !== undefined && s.since !== undefined).map((s) => timeSpent(s, 0))));
}

function minutes(ms: number): string {
  const m = ms / 60_000;
  return m < 1 ? `${Math.round(ms / 1000)} s` : `${Math.round(m)} min`;
}

/** Why this seat is stuck on its current step, or undefined. */
export function stuckReason(steps: SeatStep[], current: number, medians: Array<number | undefined>, settings: WorkshopSettings, now: number): string | undefined {
  const s = steps[current];
  if (!s || s.state === 'passed') return undefined;
  if (s.failStreak >= settings.stuckFailStreak) return `${s.failStreak} failed checks in a row on step ${current + 1}`;
  const spent = timeSpent(s, now);
  const med = medians[current];
  // With no one through the step yet there is no class to compare with: the floor times the factor.
  const limit = med === undefined ? settings.stuckMinMs * settings.stuckFactor : Math.max(settings.stuckMinMs, med * settings.stuckFactor);
  if (spent > limit) {
    return med === undefined
      ? `${minutes(spent)} on step ${current + 1}, nobody has passed it yet`
      : `${minutes(spent)} on step ${current + 1}, class median ${minutes(med)}`;
  }
  return undefined;
}
