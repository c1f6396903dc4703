// What a seated learner's page knows about its workshop, folded from the session channel's `seat`
// notices (protocol/workshops.ts SeatNotice). A pure function: no DOM, no socket.
import type { SeatNotice, WorkshopPhase } from '../../protocol/workshops.js';

export interface SeatState {
  title: string;
  phase: WorkshopPhase;
  endsAt: number;
  unlockedStep?: number;
  /** The latest broadcast (dismissed ones are cleared by the page). */
  broadcast?: { message: string; at: number };
  hand: boolean;
  viewers: number;
  control: 'learner' | 'requested' | 'instructor';
  /** The workshop ends at this time (a warning shortly before). */
  endingAt?: number;
}

export function applySeatNotice(state: SeatState | undefined, notice: SeatNotice): SeatState {
  const base: SeatState = state ?? { title: '', phase: 'open', endsAt: 0, hand: false, viewers: 0, control: 'learner' };
  switch (notice.kind) {
    case 'workshop':
      return { ...base, title: notice.title, phase: notice.phase, endsAt: notice.endsAt, unlockedStep: notice.unlockedStep,
        // Extended past a warning: the warning no longer holds.
        endingAt: base.endingAt !== undefined && notice.endsAt > base.endingAt ? undefined : base.endingAt };
    case 'broadcast':
      return { ...base, broadcast: { message: notice.message, at: notice.at } };
    case 'hand':
      return { ...base, hand: notice.raised };
    case 'viewers':
      return { ...base, viewers: notice.count };
    case 'control':
      return { ...base, control: notice.state };
    case 'ending':
      return { ...base, endingAt: notice.at };
    default:
      return base;
  }
}
