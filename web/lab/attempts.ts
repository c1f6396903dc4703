// A learner's attempts at labs (GET /api/me, protocol/history.ts) in words for people: what the lab
// list's cards and the My progress page say about each. No DOM, no fetching.
import type { AttemptInfo } from '../../protocol/history.js';
import { formatDuration } from '../controllers/clock-controller.js';

/**
 * The attempt a lab's card speaks of: the newest one not left behind by a "Start over" (a learner
 * who started over is on the newer attempt). Undefined: not started in this browser.
 */
export function latestAttempt(attempts: readonly AttemptInfo[], lab: string): AttemptInfo | undefined {
  return attempts.find((a) => a.lab === lab && a.state !== 'left');
}

/** The newest finished attempt at the lab that still has its proof (a learner may be redoing a lab they finished). */
export function latestCompletion(attempts: readonly AttemptInfo[], lab: string): AttemptInfo | undefined {
  return attempts.find((a) => a.lab === lab && a.state === 'finished' && a.completion);
}

/** "just now", "5 min ago", "3 h ago", "yesterday", else the date: when something happened, roughly. */
export function formatWhen(at: number, now = Date.now()): string {
  const ago = now - at;
  if (ago < 60_000) return 'just now';
  if (ago < 60 * 60_000) return `${Math.floor(ago / 60_000)} min ago`;
  const then = new Date(at);
  const today = new Date(now);
  if (then.toDateString() === today.toDateString()) return `${Math.floor(ago / 3_600_000)} h ago`;
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (then.toDateString() === yesterday.toDateString()) return 'yesterday';
  return then.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: then.getFullYear() === today.getFullYear() ? undefined : 'numeric' });
}

/** The step an unfinished attempt continues at (1-based). */
export function resumeStep(attempt: AttemptInfo): number {
  return attempt.resume?.step ?? Math.min(attempt.passed + 1, attempt.steps);
}

/** "In progress: step 4 of 4, 5 min ago", "Finished yesterday in 12 min", "Left at step 2 of 4". */
export function describeAttempt(attempt: AttemptInfo, now = Date.now()): string {
  switch (attempt.state) {
    case 'in-progress':
      return `In progress: step ${resumeStep(attempt)} of ${attempt.steps}, ${formatWhen(attempt.updatedAt, now)}`;
    case 'finished': {
      const at = attempt.finishedAt ?? attempt.updatedAt;
      return `Finished ${formatWhen(at, now)} in ${formatDuration(at - attempt.startedAt)}`;
    }
    case 'left':
      return `Left at step ${Math.min(attempt.passed + 1, attempt.steps)} of ${attempt.steps} (started over)`;
  }
}
