// Will a workshop fit? A workshop is refused at creation, not on the day, when the server cannot
// hold its seats: the session cap, and the box memory budget holding every seat plus the reserve
// (at the costliest of its labs), beside the other workshops running at the same time.
import type { Config } from '../config.js';
import type { WorkshopRecord } from './workshop-store.js';

export interface Fit { fits: number; why: string }

export function seatsThatFit(opts: {
  config: Config;
  /** MiB of box memory one seat of the workshop holds (its costliest lab). */
  seatMb: number;
  startsAt: number;
  endsAt: number;
  /** Workshops not ended, with their seat cost. */
  others: Array<{ w: WorkshopRecord; seatMb: number }>;
}): Fit {
  const { config, seatMb, startsAt, endsAt } = opts;
  const reserve = config.workshops.reserve;
  let otherSeats = 0;
  let otherMb = 0;
  for (const { w, seatMb: mb } of opts.others) {
    if (w.startsAt >= endsAt || w.endsAt <= startsAt) continue;
    otherSeats += w.seats;
    otherMb += (w.seats + reserve) * mb;
  }
  const bySessions = config.maxSessions - otherSeats;
  const byMemory = Math.floor((config.memoryBudgetMb - otherMb) / Math.max(1, seatMb)) - reserve;
  const fits = Math.max(0, Math.min(bySessions, byMemory));
  const beside = otherSeats > 0 ? ` beside ${otherSeats} seats of other workshops at that time` : '';
  const why = bySessions <= byMemory
    ? `the server runs at most ${config.maxSessions} sessions (TERMLAB_MAX_SESSIONS)${beside}`
    : `each seat needs ${seatMb} MiB of box memory, plus ${reserve} reserve boxes, within ${config.memoryBudgetMb} MiB (TERMLAB_MEMORY_BUDGET_MB)${beside}`;
  return { fits, why };
}
