// A running lab's box lifetime (the session channel's `lifetime` message, protocol/history.ts): when
// to warn that the box is about to be removed, and what to tell the learner about leaving. No DOM.
import { formatDuration } from '../controllers/clock-controller.js';

/** Warn this long before the box is removed at the most... */
const WARN_MS = 5 * 60_000;

/**
 * ...or in the last quarter of its lifetime when that is shorter: a server with short labs would
 * otherwise warn from the first minute, and a warning that is always there is not read.
 */
export function warnWithinMs(lifetimeMs: number): number {
  return Math.min(WARN_MS, lifetimeMs / 4);
}

/** What leaving costs: the box goes after a while without a browser, the progress stays. */
export function idleNote(idleTimeoutMs: number): string {
  return `This box is removed after ${formatDuration(idleTimeoutMs)} without a browser: your progress is kept and you can continue later.`;
}
