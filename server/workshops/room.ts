// One workshop while it runs: its seats, each seat's live session, and the rows the dashboard
// shows. Every change of a row (a check, a hand, a viewer, going stuck) becomes one `seat` event.
//
// With several replicas every replica holds the room, and each seat's session lives on one of them
// (the learner's). That replica is the seat's writer: it stores the seat's steps and publishes its
// rows; the others keep a copy, read again from the database whenever a row of it is published
// elsewhere, and show the row with the live facts (online, viewers, control) its writer last sent.
// A seat's hand and session may be changed from any replica (an instructor lowering a hand, a
// reset, a join elsewhere): those columns are written on their own and signalled to the others.
import type { SeatNotice, SeatRow, SeatStep, WorkshopEvent, WorkshopPhase, WorkshopRole, WorkshopState } from '../../protocol/workshops.js';
import type { WorkshopSettings } from '../config.js';
import type { Lab } from '../labs/lab-loader.js';
import type { Logger } from '../log.js';
import type { SessionManager } from '../sessions/session-manager.js';
import type { Session } from '../sessions/session.js';
import { TokenBucket } from '../sessions/token-bucket.js';
import type { EventLog } from './event-log.js';
import type { RoomSignals } from './room-signals.js';
import { applyProgress, freshSteps, median, timeSpent } from './seat-steps.js';
import { stepMedians, stuckReason } from './stuck.js';
import type { SeatRecord, StoredEvent, WorkshopRecord, WorkshopStore } from './workshop-store.js';

export interface RoomDeps {
  store: WorkshopStore;
  sessions: SessionManager;
  labs: () => Map<string, Lab>;
  settings: WorkshopSettings;
  events: EventLog;
  log: Logger;
  /** Tells the other replicas (absent in tests of one room). */
  signals?: RoomSignals;
}

/** A seat's rows are published this often at most (ms): the newest wins, so a learner clicking in a loop costs a few events a second. */
const SEAT_ROW_MS = 100;

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
  /** Per seat, the last row its writer on another replica published (its live facts). */
  private readonly remoteRows = new Map<string, SeatRow>();
  /** Per seat, hand and session writes queued here and not done: a read of the seat must not undo them. */
  private readonly pendingHand = new Map<string, number>();
  private readonly pendingSession = new Map<string, number>();
  private reloadQueued = false;
  /** Rows waiting for SEAT_ROW_MS to pass since their seat's last, and when each seat's last went. */
  private readonly outgoing = new Map<string, SeatRow>();
  private readonly rowTimers = new Map<string, NodeJS.Timeout>();
  private readonly rowSentAt = new Map<string, number>();
  private unfollow: (() => void) | undefined;
  /** Per seat, the last session it had on this replica. */
  private readonly heldHere = new Map<string, string>();
  /** Per seat, the hand changes its learner may still make now: each is a write and a row every replica reads. */
  private readonly handBuckets = new Map<string, TokenBucket>();

  private constructor(public w: WorkshopRecord, private readonly deps: RoomDeps, seats: SeatRecord[]) {
    for (const seat of seats) this.seats.set(seat.seat, seat);
  }

  /** The room with the workshop's seats as stored. */
  static async load(w: WorkshopRecord, deps: RoomDeps): Promise<Room> {
    return new Room(w, deps, await deps.store.seats(w.id));
  }

  get id(): string { return this.w.id; }

  /** Seats' sessions alive now on this replica. */
  liveSessions(): Session[] {
    return [...this.seats.values()].map((s) => this.sessionOf(s)).filter((s): s is Session => Boolean(s));
  }

  /** The seat's session if it runs on this replica (SessionManager knows only its own). */
  sessionOf(seat: SeatRecord): Session | undefined {
    const session = seat.session ? this.deps.sessions.byId(seat.session) : undefined;
    return session && !session.endReason ? session : undefined;
  }

  /** Follows the workshop's events published by other replicas (their seats' rows, broadcasts). */
  async follow(): Promise<void> {
    this.unfollow = await this.deps.events.follow(this.id, undefined, (e, remote) => { if (remote) this.heard(e); }, () => {},
      { internal: true, onLost: () => this.reloadSeats() });
  }

  /** Stops following the seats' sessions and the other replicas (the workshop ended, the server stops). */
  close(): void {
    this.unfollow?.();
    this.unfollow = undefined;
    this.detachAll();
    this.flushRows();
  }

  /** Sends the rows waiting for their seat's turn now (the end: they go before the last event). */
  flushRows(): void {
    for (const t of this.rowTimers.values()) clearTimeout(t);
    this.rowTimers.clear();
    for (const seat of [...this.outgoing.keys()]) this.sendNow(seat);
  }

  /**
   * Is this replica the one to send the seat's rows as time passes? The one holding its session,
   * or that held it last; for a seat that never had one, any replica until another has sent a row
   * (a replica just started knows no live facts of the others' seats). On SQLite the server is alone.
   */
  private publishes(seat: SeatRecord): boolean {
    if (this.sessionOf(seat) || this.deps.store.db.dialect === 'sqlite') return true;
    if (seat.session) return this.heldHere.get(seat.seat) === seat.session;
    return !this.remoteRows.has(seat.seat);
  }

  private heard(e: StoredEvent): void {
    const event = e.event;
    if (event.type === 'broadcast') {
      this.notifyAll({ kind: 'broadcast', message: event.message, at: event.at });
    } else if (event.type === 'seat') {
      const seat = this.seats.get(event.row.seat);
      // A row of a seat whose session is here is this replica's to publish (the other's was a hand lowered there).
      if (!seat || !this.sessionOf(seat)) this.remoteRows.set(event.row.seat, event.row);
      // Published after its writes: the seat's rows now hold what the row shows.
      this.reloadSeats();
    }
  }

  /** Sends the rows of the seats whose sessions are here again (a replica that just started asks). */
  republish(): void {
    for (const seat of this.seats.values()) {
      if (!this.sessionOf(seat)) continue;
      this.sent.delete(seat.seat);
      this.refreshSeat(seat);
    }
  }

  /** Reads the seats again (once for any number of calls while one is queued), after this replica's queued writes. */
  reloadSeats(): void {
    if (this.reloadQueued) return;
    this.reloadQueued = true;
    this.writing = this.writing.then(async () => {
      this.reloadQueued = false;
      for (const stored of await this.deps.store.seats(this.id)) this.adopt(stored);
    }).catch((err: Error) => this.deps.log.warn({ err, workshop: this.id }, 'reading the seats again failed'));
  }

  /** Takes what the database holds for a seat: all of it when its session is elsewhere, its hand and session when here. */
  private adopt(stored: SeatRecord): void {
    const seat = this.seats.get(stored.seat);
    if (!seat) return void this.seats.set(stored.seat, stored);
    const local = this.sessionOf(seat);
    let changed = false;
    if (!local) {
      Object.assign(seat, { name: stored.name, lab: stored.lab, steps: stored.steps, past: stored.past, recordings: stored.recordings });
    }
    if (!this.pendingHand.get(seat.seat) && seat.hand !== stored.hand) {
      seat.hand = stored.hand;
      local?.notify({ kind: 'hand', raised: seat.hand });
      changed = true;
    }
    if (!this.pendingSession.get(seat.seat) && seat.session !== stored.session) {
      seat.session = stored.session;
      if (local) {
        // The seat has another session now (a reset, or the learner joined through another replica):
        // this box is no longer the seat's, and a seat's box is exempt from the idle timeout.
        this.detach.get(seat.seat)?.();
        this.detach.delete(seat.seat);
        void this.deps.sessions.end(local, 'ended').catch((err: Error) => this.deps.log.warn({ err, workshop: this.id }, 'ending a replaced seat session failed'));
        changed = true;
      }
    }
    if (changed && local) this.refreshSeat(seat);
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
    this.heldHere.set(seat.seat, session.id);
    // What another replica said of the seat's live facts is no longer what holds.
    this.remoteRows.delete(seat.seat);
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

  /** May the seat's learner change their hand now? A few a second, in bursts of ten. */
  handAllowed(seat: SeatRecord): boolean {
    let bucket = this.handBuckets.get(seat.seat);
    if (!bucket) this.handBuckets.set(seat.seat, bucket = new TokenBucket(2, 10));
    return bucket.take(1);
  }

  /** Raises or lowers the seat's hand, from any replica; the one holding its session is told. */
  setHand(seat: SeatRecord, raised: boolean): void {
    seat.hand = raised;
    this.sessionOf(seat)?.notify({ kind: 'hand', raised });
    this.writeColumn(this.pendingHand, seat, () => this.deps.store.setHand(this.id, seat.seat, raised), !this.sessionOf(seat));
    this.refreshSeat(seat);
  }

  /** Gives the seat a session (or none, with `onlyIf` the one it must still have); the replica holding the old one ends it. */
  setSession(seat: SeatRecord, session: string | undefined, onlyIf?: string): void {
    seat.session = session;
    this.writeColumn(this.pendingSession, seat, () => this.deps.store.setSession(this.id, seat.seat, session, onlyIf), true);
  }

  private writeColumn(pending: Map<string, number>, seat: SeatRecord, write: () => Promise<unknown>, signal: boolean): void {
    pending.set(seat.seat, (pending.get(seat.seat) ?? 0) + 1);
    this.writing = this.writing.then(write)
      .then(() => { if (signal) this.deps.signals?.send({ kind: 'seat', workshop: this.id, seat: seat.seat }); })
      .catch((err: Error) => this.deps.log.error({ err, workshop: this.id, seat: seat.seat }, 'seat not saved'))
      .finally(() => {
        const left = (pending.get(seat.seat) ?? 1) - 1;
        if (left > 0) pending.set(seat.seat, left);
        else pending.delete(seat.seat);
      });
  }

  /** Resolves when the seats' writes made so far are stored. */
  saved(): Promise<void> { return this.writing; }

  private persist(seat: SeatRecord): void {
    this.writing = this.writing.then(() => this.deps.store.saveWork(seat))
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

  /**
   * Sends the rows that changed since they were last sent (time passing can make a seat stuck),
   * of the seats this replica speaks for.
   */
  refresh(now = Date.now()): void {
    const medians = this.medians();
    for (const seat of this.seats.values()) if (this.publishes(seat)) this.send(this.row(seat, medians, now));
  }

  private refreshSeat(seat: SeatRecord): void {
    this.send(this.row(seat, this.medians(), Date.now()));
  }

  private send(row: SeatRow): void {
    const json = JSON.stringify(row);
    if (this.sent.get(row.seat) === json) return;
    this.sent.set(row.seat, json);
    this.outgoing.set(row.seat, row);
    if (this.rowTimers.has(row.seat)) return;
    const wait = (this.rowSentAt.get(row.seat) ?? 0) + SEAT_ROW_MS - Date.now();
    if (wait <= 0) return this.sendNow(row.seat);
    const timer = setTimeout(() => {
      this.rowTimers.delete(row.seat);
      this.sendNow(row.seat);
    }, wait);
    timer.unref();
    this.rowTimers.set(row.seat, timer);
  }

  private sendNow(seat: string): void {
    const row = this.outgoing.get(seat);
    if (!row) return;
    this.outgoing.delete(seat);
    this.rowSentAt.set(seat, Date.now());
    // After the seat's writes queued so far: a replica reading the seat on this event reads them.
    this.writing = this.writing.then(() => this.publish({ type: 'seat', row }));
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
    // A seat whose session is on another replica: the live facts its writer last published.
    const remote = session ? undefined : this.remoteRows.get(seat.seat);
    const live = remote?.lab === seat.lab ? remote : undefined;
    let current = progress?.current ?? live?.current ?? seat.steps.findIndex((s) => s.state === 'current' || s.state === 'failing');
    if (current < 0) current = seat.steps.length;
    const reason = phaseOf(this.w, now) === 'ended' ? undefined : stuckReason(seat.steps, current, medians.get(seat.lab) ?? [], this.deps.settings, now);
    return {
      seat: seat.seat, name: seat.name, joinedAt: seat.joinedAt, lab: seat.lab, steps: seat.steps.map((s) => ({ ...s })),
      current, finished: current >= seat.steps.length && seat.steps.length > 0, hand: seat.hand, stuck: Boolean(reason), stuckReason: reason,
      viewers: session?.viewers ?? live?.viewers ?? 0, control: session?.control ?? live?.control ?? 'learner',
      online: session ? session.attachedClients > 0 : live?.online ?? false,
      recordings: [...seat.recordings],
    };
  }

  /** The rows of the seats this replica speaks for (metrics: summed over replicas, each seat counts once). */
  ownRows(now = Date.now()): SeatRow[] {
    const medians = this.medians();
    return [...this.seats.values()].filter((s) => this.publishes(s)).map((s) => this.row(s, medians, now));
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
