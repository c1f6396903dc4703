// The instructor's view of the room, folded from the dashboard's event stream (protocol/workshops.ts
// WorkshopEvent). Everything is keyed (seats by id, broadcasts by time), so an event applied twice
// changes nothing and a fresh `state` replaces all: a dashboard that reconnects never duplicates.
import type { SeatRow, WorkshopEvent, WorkshopState } from '../../protocol/workshops.js';

export interface RoomState {
  state: WorkshopState;
  rows: ReadonlyMap<string, SeatRow>;
  broadcasts: ReadonlyMap<number, string>;
}

export function applyWorkshopEvent(room: RoomState | undefined, event: WorkshopEvent): RoomState | undefined {
  if (event.type === 'state') {
    return { state: event.state, rows: new Map(event.state.rows.map((r) => [r.seat, r])), broadcasts: room?.broadcasts ?? new Map() };
  }
  if (!room) return room; // nothing to apply to before the first state
  switch (event.type) {
    case 'seat':
      return { ...room, rows: new Map(room.rows).set(event.row.seat, event.row) };
    case 'workshop':
      return { ...room, state: { ...room.state, phase: event.phase, endsAt: event.endsAt, warm: event.warm, unlockedStep: event.unlockedStep } };
    case 'broadcast':
      return { ...room, broadcasts: new Map(room.broadcasts).set(event.at, event.message) };
    default:
      return room;
  }
}

/** Raised hands and stuck learners first, then in joining order. */
export function sortedRows(rows: Iterable<SeatRow>): SeatRow[] {
  const urgency = (r: SeatRow) => (r.hand ? 2 : 0) + (r.stuck ? 1 : 0);
  return [...rows].sort((a, b) => urgency(b) - urgency(a) || a.joinedAt - b.joinedAt || a.seat.localeCompare(b.seat));
}

export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Per step of one lab: how many passed it, and the median time from reaching it to passing it. */
export function stepStats(rows: SeatRow[], steps: number): Array<{ passed: number; medianMs?: number }> {
  return Array.from({ length: steps }, (_, i) => {
    // Passed before a reset counts too (the server's StepSummary counts the same way).
    const passed = rows.filter((r) => r.steps[i]?.state === 'passed' || r.steps[i]?.passedAt !== undefined);
    const times = passed.flatMap((r) => {
      const s = r.steps[i]!;
      return s.passedAt !== undefined && s.since !== undefined ? [s.passedAt - s.since] : [];
    });
    return { passed: passed.length, medianMs: median(times) };
  });
}
