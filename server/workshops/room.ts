// One workshop while it runs: its seats, each seat's live session, and the rows the dashboard
// shows. Every change of a row (a check, a hand, a viewer, going stuck) becomes one `seat` event.
import type { SeatNotice, SeatRow, SeatStep, WorkshopEvent, WorkshopPhase, WorkshopRole, WorkshopState } from '../../protocol/workshops.js';
import type { WorkshopSettings } from '../config.js';
import type { Lab } from '../labs/lab-loader.js';
import type { Logger } from '../log.js';
import type { SessionManager } from '../sessions/session-manager.js';
import type { Session } from '../sessions/session.js';
import type { EventLog } from './event-log.js';
import { applyProgress, freshSteps, median, timeSpent } from './seat-steps.js';
import { stepMedians, stuckReason } from './stuck.js';
import type { SeatRecord, WorkshopRecord, WorkshopStore } from './workshop-store.js';

export interface RoomDeps {
  store: WorkshopStore;
  sessions: SessionManager;
  labs: () => Map<string, Lab>;
  settings: WorkshopSettings;
  events: EventLog;
  log: Logger;
}

export function phaseOf(w: WorkshopRecord, now: number): WorkshopPhase {
  if (w.phase === 'ended') return 'ended';
  return now >= w.startsAt ? 'open' : 'scheduled';
}

export class Room {
  readonly seats = new Map<string, SeatRecord>();
  /** The last row sent per seat (JSON), so an unchanged row sends nothing. */
  private readonly sent = new Map<string, string>();
  /** Per seat, the time of the last check outcome counted (seat-steps.ts). */
  private readonly feedbackAt = new Map<string, number>();
  private readonly detach = new Map<string, () => void>();
  /** Hints opened per seat ("step:hint"), so opening one twice counts once. */
  private readonly hintsOpened = new Map<string, Set<string>>();
  /** The ending notice went out for the current endsAt. */
  warned = false;
  /** The warm-box count the dashboards were last told. */
  warmSent = 0;

  /** Seats' writes, one after the other (the last state of a seat wins). */
  private writing: Promise<void> = Promise.resolve();

  private constructor(public w: WorkshopRecord, private readonly deps: RoomDeps, seats: SeatRecord[]) {
    for (const seat of seats) this.seats.set(seat.seat, seat);
  }

  /** The room with the workshop's seats as stored. */
  static async load(w: WorkshopRecord, deps: RoomDeps): Promise<Room> {
    return new Room(w, deps, await deps.store.seats(w.id));
  }

  get id(): string { return this.w.id; }

  /** Seats' sessions alive now. */
  liveSessions(): Session[] {
    return [...this.seats.values()].map((s) => (s.session ? this.deps.sessions.byId(s.session) : undefined)).filter((s): s is Session => Boolean(s));
  }

  sessionOf(seat: SeatRecord): Session | undefined {
    return seat.session ? this.deps.sessions.byId(seat.session) : undefined;
  }

  seatOfSession(session: string): SeatRecord | undefined {
    for (const seat of this.seats.values()) if (seat.session === session) return seat;
    return undefined;
  }

  /** Paced rooms: the runner's gate (0-based step). */
  gate = (step: number): string | undefined => {
    const open = this.w.unlockedStep;
    return open !== undefined && step + 1 > open
      ? `The instructor has opened steps 1 to ${open} so far: step ${step + 1} can be checked once they open it.`
      : undefined;
  };

  /** Follows a seat's (new) session: its progress, viewers and control become the seat's row. */
  attach(seat: SeatRecord, session: Session): void {
    this.detach.get(seat.seat)?.();
    seat.session = session.id;
    if (seat.steps.length !== session.lab.steps.length) seat.steps = freshSteps(session.lab.steps.length);
    this.feedbackAt.set(seat.seat, session.runner.progress().feedback?.at ?? 0);
    const onProgress = (): void => {
      const at = applyProgress(seat.steps, session.runner.progress(), this.feedbackAt.get(seat.seat) ?? 0, Date.now(), this.w.unlockedStep ?? Infinity);
      this.feedbackAt.set(seat.seat, at);
      this.persist(seat);
      this.refreshSeat(seat);
    };
    const offs = [
      session.runner.onChange(onProgress),
      session.onViewersChange(() => this.refreshSeat(seat)),
      session.onControlChange(() => this.refreshSeat(seat)),
      session.onEnd(() => this.refreshSeat(seat)),
    ];
    this.detach.set(seat.seat, () => offs.forEach((off) => off()));
    onProgress();
  }

  /** Stops following the seats' sessions (the workshop ended). */
  detachAll(): void {
    for (const off of this.detach.values()) off();
    this.detach.clear();
  }

  save(seat: SeatRecord): void {
    this.persist(seat);
    this.refreshSeat(seat);
  }

  /** Resolves when the seats' writes made so far are stored. */
  saved(): Promise<void> { return this.writing; }

  private persist(seat: SeatRecord): void {
    this.writing = this.writing.then(() => this.deps.store.saveSeat(seat))
      .catch((err: Error) => this.deps.log.error({ err, workshop: this.id, seat: seat.seat }, 'seat not saved'));
  }

  noteHint(seat: SeatRecord, step: number, hint: number | undefined, hintCount: number): void {
    const s = seat.steps[step];
    if (!s) return;
    const opened = this.hintsOpened.get(seat.seat) ?? new Set();
    this.hintsOpened.set(seat.seat, opened);
    const key = `${step}:${hint ?? opened.size}`;
    if (opened.has(key) || s.hintsUsed >= Math.max(1, hintCount)) return;
    opened.add(key);
    s.hintsUsed++;
    this.save(seat);
  }

  /** Tells every seated learner's page. */
  notifyAll(notice: SeatNotice): void {
    for (const session of this.liveSessions()) session.notify(notice);
  }

  workshopNotice(now: number): SeatNotice {
    return { kind: 'workshop', title: this.w.title, endsAt: this.w.endsAt, phase: phaseOf(this.w, now), unlockedStep: this.w.unlockedStep };
  }

  workshopEvent(now: number): WorkshopEvent {
    return { type: 'workshop', phase: phaseOf(this.w, now), endsAt: this.w.endsAt, warm: this.deps.sessions.reservedBoxes(this.id), unlockedStep: this.w.unlockedStep };
  }

  publish(event: WorkshopEvent): void {
    if (event.type === 'workshop') this.warmSent = event.warm;
    this.deps.events.publish(this.id, event)
      .catch((err: Error) => this.deps.log.error({ err, workshop: this.id }, 'workshop event not stored'));
  }

  /** Sends the rows that changed since they were last sent (time passing can make a seat stuck). */
  refresh(now = Date.now()): void {
    const medians = this.medians();
    for (const seat of this.seats.values()) this.send(this.row(seat, medians, now));
  }

  private refreshSeat(seat: SeatRecord): void {
    this.send(this.row(seat, this.medians(), Date.now()));
  }

  private send(row: SeatRow): void {
    const json = JSON.stringify(row);
    if (this.sent.get(row.seat) === json) return;
    this.sent.set(row.seat, json);
    this.publish({ type: 'seat', row });
  }

  /** Every seat's steps of one lab (the one it is on, or one it finished before). */
  stepsOn(labId: string): SeatStep[][] {
    return [...this.seats.values()].map((s) => (s.lab === labId ? s.steps : s.past[labId])).filter((s): s is SeatStep[] => Boolean(s));
  }

  private medians(): Map<string, Array<number | undefined>> {
    const out = new Map<string, Array<number | undefined>>();
    for (const labId of this.w.labs) {
      const lab = this.deps.labs().get(labId);
      const seats = this.stepsOn(labId);
      out.set(labId, stepMedians(seats, lab?.steps.length ?? 0));
    }
    return out;
  }

  row(seat: SeatRecord, medians: Map<string, Array<number | undefined>>, now: number): SeatRow {
    const session = this.sessionOf(seat);
    const progress = session?.runner.progress();
    let current = progress?.current ?? seat.steps.findIndex((s) => s.state === 'current' || s.state === 'failing');
    if (current < 0) current = seat.steps.length;
    const reason = phaseOf(this.w, now) === 'ended' ? undefined : stuckReason(seat.steps, current, medians.get(seat.lab) ?? [], this.deps.settings, now);
    return {
      seat: seat.seat, name: seat.name, joinedAt: seat.joinedAt, lab: seat.lab, steps: seat.steps.map((s) => ({ ...s })),
      current, finished: current >= seat.steps.length && seat.steps.length > 0, hand: seat.hand, stuck: Boolean(reason), stuckReason: reason,
      viewers: session?.viewers ?? 0, control: session?.control ?? 'learner', online: (session?.attachedClients ?? 0) > 0,
      recordings: [...seat.recordings],
    };
  }

  /** Hands and stuck seats first (they need someone), then by seat number. */
  rows(now = Date.now()): SeatRow[] {
    const medians = this.medians();
    const urgent = (r: SeatRow): number => (r.hand ? 0 : r.stuck ? 1 : 2);
    return [...this.seats.values()].map((s) => this.row(s, medians, now))
      .sort((a, b) => urgent(a) - urgent(b) || Number(a.seat) - Number(b.seat));
  }

  state(role: WorkshopRole, learnerSeat: string | undefined, now = Date.now()): WorkshopState {
    const rows = this.rows(now).filter((r) => role !== 'learner' || r.seat === learnerSeat);
    const labs = this.w.labs.map((id) => {
      const lab = this.deps.labs().get(id);
      const seats = this.stepsOn(id);
      return {
        id, title: lab?.title ?? id,
        steps: (lab?.steps ?? []).map((step, i) => {
          const passed = seats.map((steps) => steps[i]).filter((s) => s?.passedAt !== undefined);
          return { title: step.title, passed: passed.length, medianMs: median(passed.map((s) => timeSpent(s!, now))) };
        }),
      };
    });
    return {
      id: this.id, code: this.w.code, title: this.w.title, role, phase: phaseOf(this.w, now), startsAt: this.w.startsAt, endsAt: this.w.endsAt,
      seats: this.w.seats, labs, rows, warm: this.deps.sessions.reservedBoxes(this.id), unlockedStep: this.w.unlockedStep, serverTime: now,
    };
  }
}
