// A seat's record of each step, built from its session's runner: what the dashboard's grid and the
// report show. It outlives the session (a reset starts a new box; the history stays with the seat).
import type { LabProgress } from '../../protocol/api.js';
import type { SeatStep } from '../../protocol/workshops.js';

export function freshSteps(count: number): SeatStep[] {
  return Array.from({ length: count }, () => ({ state: 'not-reached' as const, attempts: 0, failures: 0, failStreak: 0, hintsUsed: 0 }));
}

/**
 * Folds one runner progress into the seat's steps. `seenFeedbackAt` is the time of the last check
 * outcome already counted (feedback stays on the progress across changes, so each is counted once);
 * `lockedFrom` (0-based): paced rooms refuse checks from this step on, and a refusal is no attempt.
 * Returns the time of the newest feedback counted.
 */
export function applyProgress(steps: SeatStep[], progress: LabProgress, seenFeedbackAt: number, now: number, lockedFrom = Infinity): number {
  const fb = progress.feedback;
  if (fb && fb.at > seenFeedbackAt && steps[fb.step] && fb.step < lockedFrom) {
    const s = steps[fb.step]!;
    s.attempts++;
    if (fb.passed) {
      s.failStreak = 0;
      s.passedAt ??= fb.at;
    } else {
      s.failures++;
      s.failStreak++;
    }
  }
  steps.forEach((s, i) => {
    if (progress.steps[i] === 'done') {
      s.state = 'passed';
      s.since ??= now;
      s.passedAt ??= now;
    } else if (i === progress.current) {
      s.since ??= now;
      s.state = s.failStreak > 0 ? 'failing' : 'current';
    } else {
      // After a reset the new box starts at step 1 again; what was passed before stays in passedAt.
      s.state = 'not-reached';
    }
  });
  return fb && fb.at > seenFeedbackAt ? fb.at : seenFeedbackAt;
}

/** Time spent on a step: from reaching it to passing it (or to `now` while on it). */
export function timeSpent(s: SeatStep, now: number): number {
  if (s.since === undefined) return 0;
  return Math.max(0, (s.passedAt ?? now) - s.since);
}

export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
