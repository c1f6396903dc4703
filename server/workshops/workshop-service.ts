// Workshops from creation to report: admitting a workshop the server can hold, warming its boxes,
// seating learners, the instructor's actions, and the end at endsAt (after a warning on every page).
// HTTP is in server/http/workshop-routes.ts; a running workshop's seats and rows are in room.ts.
//
// Replicas sharing the database each hold every live room. The workshop's row is the authority
// for its times, pace and phase: a replica changing it signals the others (room-signals.ts), which
// read it again and apply what changed to the seats whose sessions they hold (notices, checks of a
// step just opened, the end). Each replica's clock ends its own seats at endsAt; one of them (the
// first to store the change) announces each phase to the dashboards.
import type { JoinResponse, ReportRow, SeatNotice, WorkshopJoinInfo, WorkshopRole, WorkshopState } from '../../protocol/workshops.js';
import type { Config } from '../config.js';
import type { Lab } from '../labs/lab-loader.js';
import type { Logger } from '../log.js';
import type { RecordingService } from '../recordings/recording-service.js';
import type { SessionManager } from '../sessions/session-manager.js';
import type { Session } from '../sessions/session.js';
import { seatsThatFit, type Fit } from './capacity.js';
import { EventLog } from './event-log.js';
import { RoomSignals, type RoomSignal } from './room-signals.js';
import { reportRows } from './report.js';
import { Room, phaseOf } from './room.js';
import { freshSteps } from './seat-steps.js';
import { hashKey, keyMatches, newJoinCode, newKey, newWorkshopId } from './secrets.js';
import type { SeatRecord, WorkshopRecord, WorkshopStore } from './workshop-store.js';

/** A refused request: its HTTP status, a code for programs and a sentence for people. */
export class WorkshopError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly extra: Record<string, unknown> = {}) { super(message); }
}

/** How often time-driven changes are looked for: opening, warm-up, stuck seats, the warning and the end. */
const TICK_MS = 250;
/** Ended workshops past their retention are looked for this often (and at start). */
const PURGE_EVERY_MS = 60 * 60 * 1000;

export interface NewWorkshop { title: string; labs: string[]; seats: number; startsAt: number; endsAt: number; paced: boolean }

export class WorkshopService {
  private readonly rooms = new Map<string, Room>();
  /** Seats whose session is being made, so a double-clicked Join makes one box. */
  private readonly seating = new Map<string, Promise<Session>>();
  private readonly ending = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private purgedAt = 0;
  readonly events: EventLog;
  private readonly signals: RoomSignals;
  /** Rooms being loaded after a signal or a join (a workshop made on another replica), once each. */
  private readonly loading = new Map<string, Promise<Room | undefined>>();
  private stopped = false;
  /** Live replicas when last counted, and when. */
  private replicaCount = 1;
  private countedAt = 0;
  /** How often the live replicas are counted again (ms). */
  private static readonly COUNT_EVERY_MS = 5_000;

  constructor(
    private readonly config: Config,
    readonly store: WorkshopStore,
    private readonly sessions: SessionManager,
    private readonly recordings: RecordingService,
    private readonly labs: () => Map<string, Lab>,
    private readonly log: Logger,
    /** The instance's live replicas (ReplicaLeases.live()): each warms its share of a room's boxes. */
    private readonly replicas: () => Promise<Set<string>> = async () => new Set(['this']),
  ) {
    this.signals = new RoomSignals(store.db, config.instance, log);
    this.events = new EventLog(store, config.workshops.eventsKept, this.signals);
  }

  private get settings(): Config['workshops'] { return this.config.workshops; }

  async start(): Promise<void> {
    // Listening first: a workshop made on another replica while the rooms load is heard.
    await this.signals.start({ onSignal: (signal) => this.heard(signal), onResync: () => this.resync() });
    this.sessions.onAdopt((session) => this.adopted(session));
    this.replicaCount = Math.max(1, (await this.replicas().catch(() => new Set<string>())).size);
    this.countedAt = Date.now();
    // Workshops that outlived a restart: their boxes are gone (leftovers are removed at start), their
    // seats and history are not; learners who come back get new boxes on the same seats. With other
    // replicas running, these are also the rooms they hold.
    for (const w of await this.store.unfinished()) {
      await this.adoptRoom(w);
      // The replicas holding its seats' sessions send their rows again: this one shows them as they are.
      this.signals.send({ kind: 'rows', workshop: w.id });
    }
    this.purge(Date.now());
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const room of this.rooms.values()) room.close();
    await Promise.all(this.ending.values());
    await this.signals.stop();
  }

  private creating: Promise<unknown> = Promise.resolve();

  private newRoom(w: WorkshopRecord): Promise<Room> {
    return Room.load(w, { store: this.store, sessions: this.sessions, labs: this.labs, settings: this.settings, events: this.events, log: this.log,
      signals: this.signals });
  }

  /** The live room of a workshop not ended, loaded and following the other replicas once. */
  private adoptRoom(w: WorkshopRecord): Promise<Room | undefined> {
    const live = this.rooms.get(w.id);
    if (live) return Promise.resolve(live);
    const pending = this.loading.get(w.id);
    if (pending) return pending;
    const loading = (async () => {
      if (w.phase === 'ended' || this.stopped) return undefined;
      const room = await this.newRoom(w);
      await room.follow();
      if (this.stopped) {
        room.close();
        return undefined;
      }
      this.rooms.set(w.id, room);
      return room;
    })().finally(() => this.loading.delete(w.id));
    this.loading.set(w.id, loading);
    return loading;
  }

  // ---- what other replicas did ----

  /**
   * A seat's session taken over from a replica that stopped or died: this replica holds it now, so
   * it follows its progress, speaks for its row, and paces it as the room does.
   */
  private adopted(session: Session): void {
    const room = session.workshop ? this.rooms.get(session.workshop) : undefined;
    const seat = room?.seatOfSession(session.id);
    if (!room || !seat) return;
    session.runner.setGate(room.gate);
    room.attach(seat, session);
    session.notify(room.workshopNotice(Date.now()));
  }

  private heard(signal: RoomSignal): void {
    if (signal.kind === 'events') return this.events.heard(signal.workshop, signal.seq);
    if (signal.kind === 'seat') return void this.rooms.get(signal.workshop)?.reloadSeats();
    if (signal.kind === 'rows') return void this.rooms.get(signal.workshop)?.republish();
    if (signal.kind === 'control') return this.heardControl(signal.workshop, signal.seat, signal.on);
    void this.reread(signal.workshop).catch((err: Error) => this.log.warn({ err, workshop: signal.workshop }, 'reading a workshop changed elsewhere failed'));
  }

  /** An instructor on another replica asked for (or handed back) control of a seat this replica serves. */
  private heardControl(workshop: string, seatId: string, on: boolean): void {
    const room = this.rooms.get(workshop);
    const seat = room?.seats.get(seatId);
    const session = room && seat ? room.sessionOf(seat) : undefined;
    if (!session) return;
    if (on) session.requestControl();
    else session.setControl('learner');
  }

  /** Signals may have been lost: every room reads its workshop, seats and events again; workshops made meanwhile are loaded. */
  private resync(): void {
    this.log.warn('the connection hearing the other replicas was made again: every room reads what it may have missed');
    this.events.resync();
    void (async () => {
      for (const room of this.rooms.values()) {
        room.reloadSeats();
        await this.reread(room.id);
      }
      for (const w of await this.store.unfinished()) await this.adoptRoom(w);
    })().catch((err: Error) => this.log.warn({ err }, 'reading the workshops again after a lost connection failed'));
  }

  /**
   * The workshop's row changed on another replica (or this one: then nothing differs): its room
   * takes the row, and this replica's seats hear what changed. A workshop new here gets its room.
   */
  private async reread(id: string): Promise<void> {
    const w = await this.store.workshop(id);
    if (!w) return;
    const room = this.rooms.get(id);
    if (!room) {
      await this.adoptRoom(w);
      return;
    }
    if (this.ending.has(id)) return;
    const was = room.w;
    const moved = w.endsAt !== was.endsAt;
    const opened = (w.unlockedStep ?? 0) > (was.unlockedStep ?? 0);
    const changed = moved || w.unlockedStep !== was.unlockedStep || w.phase !== was.phase;
    Object.assign(room.w, { endsAt: w.endsAt, unlockedStep: w.unlockedStep, phase: w.phase === 'ended' ? was.phase : w.phase });
    if (moved) room.warned = false;
    if (w.phase === 'ended') return this.finish(room, false);
    if (changed) room.notifyAll(room.workshopNotice(Date.now()));
    // Work done ahead while a step was locked counts as soon as it opens.
    if (opened) for (const session of room.liveSessions()) void session.runner.check('command');
    this.tick();
  }

  /** Stores a change of the workshop's row, then tells the other replicas to read it. */
  private change(id: string, change: Parameters<WorkshopStore['update']>[1]): void {
    void this.persist(id, change).then(() => this.signals.send({ kind: 'workshop', workshop: id }));
  }

  /** The live room, or a read-only one for an ended workshop (its report). */
  async room(id: string): Promise<Room | undefined> {
    const live = this.rooms.get(id);
    if (live) return live;
    const w = await this.store.workshop(id);
    return w && this.newRoom(w);
  }

  /** Stores a change of the workshop's row; a failure is logged (the room in memory has it). */
  private persist(id: string, change: Parameters<WorkshopStore['update']>[1]): Promise<void> {
    return this.store.update(id, change).catch((err: Error) => this.log.error({ err, workshop: id }, 'workshop change not stored'));
  }

  /** Live rooms (metrics). */
  liveRooms(): Room[] { return [...this.rooms.values()]; }

  // ---- creating ----

  /** How many seats of these labs the server can hold between these times, beside other workshops. */
  async fits(labs: string[], startsAt: number, endsAt: number): Promise<Fit> {
    const seatMb = (ids: string[]): number => Math.max(...ids.map((l) => this.sessions.costMb(l)));
    return seatsThatFit({
      config: this.config, seatMb: seatMb(labs), startsAt, endsAt,
      others: (await this.store.unfinished()).map((w) => ({ w, seatMb: seatMb(w.labs) })),
    });
  }

  create(req: NewWorkshop): Promise<{ record: WorkshopRecord; instructorKey: string; assistantKey: string }> {
    // One at a time: the open-workshops cap and the seats that fit are checked against the ones made before.
    const made = this.creating.then(() => this.createNow(req));
    this.creating = made.catch(() => undefined);
    return made;
  }

  private async createNow(req: NewWorkshop): Promise<{ record: WorkshopRecord; instructorKey: string; assistantKey: string }> {
    for (const id of req.labs) if (!this.labs().has(id)) throw new WorkshopError(400, 'no-such-lab', `there is no lab "${id}": GET /api/labs lists them`);
    // Without an admin token anyone may create workshops: each holds a room in memory and rows in
    // the database until it ends, so how many can be open at once is bounded.
    if (this.rooms.size >= this.settings.maxOpen) {
      throw new WorkshopError(429, 'too-many-workshops', `this server already holds ${this.rooms.size} workshops that have not ended ` +
        `(TERMLAB_WORKSHOPS_OPEN_MAX is ${this.settings.maxOpen}): end one, or wait until one ends`);
    }
    const { fits, why } = await this.fits(req.labs, req.startsAt, req.endsAt);
    if (req.seats > fits) {
      throw new WorkshopError(409, 'too-many-seats', `this server can hold ${fits} seat${fits === 1 ? '' : 's'} for this workshop: ${why}; ask for ${fits} or fewer`, { fits });
    }
    let code = newJoinCode();
    while (await this.store.codeTaken(code)) code = newJoinCode();
    const instructorKey = newKey();
    const assistantKey = newKey();
    const record: WorkshopRecord = {
      id: newWorkshopId(), code, title: req.title, labs: req.labs, seats: req.seats, startsAt: req.startsAt, endsAt: req.endsAt,
      paced: req.paced, unlockedStep: req.paced ? 1 : undefined, instructorHash: hashKey(instructorKey), assistantHash: hashKey(assistantKey),
      phase: Date.now() >= req.startsAt ? 'open' : 'scheduled', createdAt: Date.now(),
    };
    await this.store.createWorkshop(record);
    const room = (await this.adoptRoom(record))!;
    // The other replicas hold the room too: learners joining through them are seated in it.
    this.signals.send({ kind: 'workshop', workshop: record.id });
    this.log.info({ workshop: record.id, seats: record.seats, labs: record.labs, startsAt: record.startsAt, endsAt: record.endsAt }, 'workshop created');
    this.tick();
    return { record, instructorKey, assistantKey };
  }

  /** The role a workshop key gives (from its cookie), or, without one, the learner's if they hold a seat. */
  async role(id: string, key: string | undefined, learner: string): Promise<{ role: WorkshopRole; seat?: string } | undefined> {
    const w = await this.store.workshop(id);
    if (!w) return undefined;
    if (key && keyMatches(key, w.instructorHash)) return { role: 'instructor' };
    if (key && keyMatches(key, w.assistantHash)) return { role: 'assistant' };
    const seat = await this.store.seatOf(id, learner);
    return seat ? { role: 'learner', seat: seat.seat } : undefined;
  }

  /** Which key a link carries: instructor, assistant, or neither. */
  async keyRole(id: string, key: string): Promise<'instructor' | 'assistant' | undefined> {
    const w = await this.store.workshop(id);
    if (!w) return undefined;
    if (keyMatches(key, w.instructorHash)) return 'instructor';
    if (keyMatches(key, w.assistantHash)) return 'assistant';
    return undefined;
  }

  // ---- learners ----

  async joinInfo(code: string, learner: string): Promise<WorkshopJoinInfo | undefined> {
    const w = await this.store.byCode(code);
    if (!w) return undefined;
    const room = (await this.room(w.id))!;
    return {
      code: w.code, title: w.title, labs: w.labs.map((id) => ({ id, title: this.labs().get(id)?.title ?? id })),
      seats: w.seats, taken: room.seats.size, phase: phaseOf(w, Date.now()), startsAt: w.startsAt, endsAt: w.endsAt,
      mySeat: (await this.store.seatOf(w.id, learner))?.seat,
    };
  }

  async join(code: string, learner: string, name: string): Promise<JoinResponse> {
    const w = await this.store.byCode(code);
    if (!w) throw new WorkshopError(404, 'no-workshop', 'no workshop has this code: check it with your instructor');
    const now = Date.now();
    const phase = phaseOf(w, now);
    if (phase === 'ended') throw new WorkshopError(410, 'ended', `this workshop ended at ${new Date(w.endsAt).toISOString()}`);
    if (phase === 'scheduled') {
      throw new WorkshopError(409, 'not-open', `this workshop opens at ${new Date(w.startsAt).toISOString()}: come back then`, { startsAt: w.startsAt });
    }
    // Made on another replica a moment ago: its signal may not have arrived yet.
    const room = this.rooms.get(w.id) ?? await this.adoptRoom(w);
    if (!room) throw new WorkshopError(410, 'ended', 'this workshop has ended');
    let seat = await this.store.seatOf(w.id, learner);
    if (seat) {
      if (!room.seats.has(seat.seat)) room.seats.set(seat.seat, seat);
      seat = room.seats.get(seat.seat)!;
      if (name && name !== seat.name) {
        seat.name = name;
        room.save(seat);
      }
    } else {
      const lab = w.labs[0]!;
      seat = await this.store.takeSeat(w.id, w.seats, {
        learner, name, joinedAt: now, lab, hand: false, steps: freshSteps(this.labs().get(lab)?.steps.length ?? 0), past: {}, recordings: [],
      });
      // Refused before any box is touched: a full room costs the server nothing.
      if (!seat) throw new WorkshopError(409, 'full', `full (${w.seats}/${w.seats})`, { seats: w.seats, taken: w.seats });
      room.seats.set(seat.seat, seat);
      room.save(seat);
      this.log.info({ workshop: w.id, seat: seat.seat }, 'learner seated');
    }
    const session = await this.seatSession(room, seat);
    return { workshop: w.id, seat: seat.seat, name: seat.name, session: session.info() };
  }

  /** The seat's live session, or a new one (from the workshop's warm boxes when there are). */
  private seatSession(room: Room, seat: SeatRecord, replace = false): Promise<Session> {
    const live = room.sessionOf(seat);
    if (live && !live.endReason && !replace) return Promise.resolve(live);
    const key = `${room.id}/${seat.seat}`;
    const pending = this.seating.get(key);
    if (pending) return pending;
    const making = (async () => {
      const session = await this.sessions.create(seat.lab, { workshop: room.id, gate: room.gate });
      // The workshop ended while the box started: a seat's session is exempt from the idle timeout,
      // so it must not outlive its workshop.
      if (this.ending.has(room.id)) {
        await this.sessions.end(session, 'ended');
        throw new WorkshopError(410, 'ended', 'this workshop has ended');
      }
      room.attach(seat, session);
      // Signalled: a replica holding the seat's previous session (the learner came through another) ends it.
      room.setSession(seat, session.id);
      room.save(seat);
      session.notify(room.workshopNotice(Date.now()));
      this.warm(room);
      return session;
    })().finally(() => this.seating.delete(key));
    this.seating.set(key, making);
    return making;
  }

  /** The seat a learner's session holds, with its room. */
  seatOf(session: Session): { room: Room; seat: SeatRecord } | undefined {
    const room = session.workshop ? this.rooms.get(session.workshop) : undefined;
    const seat = room?.seatOfSession(session.id);
    return room && seat ? { room, seat } : undefined;
  }

  /**
   * What a seated learner's page should know on (re)attaching: the workshop's title, end and pace
   * (the session channel sends it after session-ready), or undefined for a session that is no seat.
   */
  currentNotice(session: Session): SeatNotice | undefined {
    const found = this.seatOf(session);
    return found?.room.workshopNotice(Date.now());
  }

  /**
   * A learner who finished the seat's lab moves on to the workshop's next one: a new session (a new
   * box) on the same seat; the finished lab's steps stay in the seat's history and the report.
   */
  async nextLab(session: Session): Promise<JoinResponse> {
    const found = this.seatOf(session);
    if (!found) throw new WorkshopError(404, 'no-seat', 'this session is not a workshop seat');
    const { room, seat } = found;
    const next = room.w.labs[room.w.labs.indexOf(seat.lab) + 1];
    if (!next) throw new WorkshopError(409, 'last-lab', 'this is the workshop\'s last lab');
    const progress = session.runner.progress();
    if (!progress.finished) {
      throw new WorkshopError(409, 'not-finished', `finish this lab first: ${progress.current} of ${progress.steps.length} steps done`);
    }
    seat.past[seat.lab] = seat.steps;
    seat.lab = next;
    seat.steps = freshSteps(this.labs().get(next)?.steps.length ?? 0);
    room.save(seat);
    const fresh = await this.seatSession(room, seat, true);
    await this.sessions.end(session, 'ended');
    this.log.info({ workshop: room.id, seat: seat.seat, lab: next }, 'seat moved to the next lab');
    return { workshop: room.id, seat: seat.seat, name: seat.name, session: fresh.info() };
  }

  hand(session: Session, raised: boolean): void {
    const found = this.seatOf(session);
    if (!found) throw new WorkshopError(404, 'no-seat', 'this session is not a workshop seat');
    if (found.seat.hand === raised) return void session.notify({ kind: 'hand', raised });
    if (!found.room.handAllowed(found.seat)) throw new WorkshopError(429, 'rate-limited', 'your hand went up and down too often: wait a few seconds');
    found.room.setHand(found.seat, raised);
  }

  hint(session: Session, step: number, hint: number | undefined): void {
    const found = this.seatOf(session);
    if (!found) throw new WorkshopError(404, 'no-seat', 'this session is not a workshop seat');
    const labStep = session.lab.steps[step];
    if (!labStep) throw new WorkshopError(404, 'no-step', `this lab has steps 1 to ${session.lab.steps.length}`);
    found.room.noteHint(found.seat, step, hint, labStep.hints.length);
  }

  // ---- the room, for instructors and assistants ----

  async state(id: string, role: WorkshopRole, seat?: string): Promise<WorkshopState> {
    return (await this.room(id))!.state(role, seat);
  }

  private liveRoom(id: string): Room {
    const room = this.rooms.get(id);
    if (!room) throw new WorkshopError(410, 'ended', 'this workshop has ended: its report is still available');
    return room;
  }

  private seatIn(room: Room, seatId: string): SeatRecord {
    const seat = room.seats.get(seatId);
    if (!seat) throw new WorkshopError(404, 'no-seat', `seat ${seatId} is not taken in this workshop`);
    return seat;
  }

  broadcast(id: string, message: string): void {
    const room = this.liveRoom(id);
    const at = Date.now();
    room.notifyAll({ kind: 'broadcast', message, at });
    // Other replicas' rooms hear the event and tell their seats (room.ts).
    room.publish({ type: 'broadcast', message, at });
  }

  extend(id: string, minutes: number): number {
    const room = this.liveRoom(id);
    room.w.endsAt += minutes * 60_000;
    this.change(id, { endsAt: room.w.endsAt });
    room.warned = false;
    this.announce(room);
    return room.w.endsAt;
  }

  pace(id: string, unlockedStep: number): void {
    const room = this.liveRoom(id);
    room.w.unlockedStep = unlockedStep;
    this.change(id, { unlockedStep });
    this.announce(room);
    // Work done ahead while a step was locked counts as soon as it opens.
    for (const session of room.liveSessions()) void session.runner.check('command');
  }

  /** Every page's countdown and the dashboards hear the workshop's times and pace. */
  private announce(room: Room): void {
    const now = Date.now();
    room.notifyAll(room.workshopNotice(now));
    room.publish(room.workshopEvent(now));
  }

  /** A new box for the seat (from the reserve when there is one); the seat's history stays. */
  async reset(id: string, seatId: string): Promise<Session | undefined> {
    const room = this.liveRoom(id);
    const seat = this.seatIn(room, seatId);
    const old = room.sessionOf(seat);
    if (!old && seat.session) {
      // Its session is on another replica: the seat lets it go, that replica ends it when signalled,
      // and the learner's page, seeing it end, joins again through its own replica onto a new box.
      room.setSession(seat, undefined, seat.session);
      this.log.info({ workshop: id, seat: seatId }, 'seat reset (its session was on another replica)');
      return undefined;
    }
    const fresh = await this.seatSession(room, seat, true);
    // The learner's page sees its old session end and joins again, landing in the new box.
    if (old) await this.sessions.end(old, 'ended');
    this.log.info({ workshop: id, seat: seatId }, 'seat reset');
    return fresh;
  }

  control(id: string, seatId: string, on: boolean): void {
    const room = this.liveRoom(id);
    const session = this.seatSessionHere(room, seatId);
    // Served by another replica: it hears the request and asks its learner (or hands control back).
    if (!session) return this.signals.send({ kind: 'control', workshop: id, seat: seatId, on });
    if (on) session.requestControl();
    else session.setControl('learner');
  }

  /**
   * A single-use ticket for a view of the seat's terminal. For a session another replica serves,
   * the ticket is signed with the replicas' shared key: the view socket lands here (or anywhere),
   * is relayed to that replica (server/http/view-relay.ts), and that replica redeems it.
   */
  viewTicket(id: string, seatId: string, role: 'instructor' | 'assistant'): { ticket: string; terminals: string[] } {
    const room = this.liveRoom(id);
    const session = this.seatSessionHere(room, seatId);
    const seat = this.seatIn(room, seatId);
    const sessionId = session?.id ?? seat.session!;
    const terminals = (session?.lab ?? this.labs().get(seat.lab))?.terminals.map((t) => t.id) ?? [];
    return { ticket: this.sessions.viewTickets.issue({ session: sessionId, workshop: id, role }), terminals };
  }

  /** The seat's session when this replica serves it; undefined when another replica does; an error when nobody does. */
  private seatSessionHere(room: Room, seatId: string): Session | undefined {
    const seat = this.seatIn(room, seatId);
    const session = room.sessionOf(seat);
    if (session) return session;
    if (seat.session && this.store.db.dialect === 'postgres') return undefined;
    throw new WorkshopError(409, 'seat-offline', `seat ${seatId} has no running box now (the learner gets one when they open the workshop again)`);
  }

  lowerHand(id: string, seatId: string): void {
    const room = this.liveRoom(id);
    // Signalled when the seat's session is on another replica: that one tells the learner's page.
    room.setHand(this.seatIn(room, seatId), false);
  }

  /** Ends the workshop after the warning (now + the warning time, unless it ends sooner anyway). */
  endSoon(id: string): number {
    const room = this.liveRoom(id);
    const at = Math.min(room.w.endsAt, Date.now() + this.settings.endWarningMs);
    if (at !== room.w.endsAt) {
      room.w.endsAt = at;
      this.change(id, { endsAt: at });
      room.warned = false;
      this.announce(room);
    }
    this.tick();
    return at;
  }

  /** Resolves when the workshop has ended (tests, and the end route when it ends at once). */
  ended(id: string): Promise<void> { return this.ending.get(id) ?? Promise.resolve(); }

  async report(id: string): Promise<ReportRow[]> {
    const room = (await this.room(id))!;
    const shares = new Map<string, string>();
    for (const seat of room.seats.values()) {
      for (const r of seat.recordings) {
        const info = await this.recordings.store.get(r);
        if (info) shares.set(seat.seat, info.share);
      }
    }
    return reportRows([...room.seats.values()], room.w.labs, this.labs(), (seat) => {
      const last = shares.get(seat.seat);
      return last ? `/watch/${last}` : undefined;
    }, room.w.phase === 'ended' ? Math.min(Date.now(), room.w.endsAt) : Date.now());
  }

  // ---- time ----

  private tick(): void {
    const now = Date.now();
    if (now - this.purgedAt >= PURGE_EVERY_MS) this.purge(now);
    if (now - this.countedAt >= WorkshopService.COUNT_EVERY_MS) {
      this.countedAt = now;
      void this.replicas().then((live) => { this.replicaCount = Math.max(1, live.size); }, () => {});
    }
    for (const room of this.rooms.values()) {
      if (this.ending.has(room.id)) continue;
      const stored = room.w.phase;
      const phase = phaseOf(room.w, now);
      if (phase !== stored) {
        room.w.phase = phase;
        // Every replica's seats hear it; the dashboards once, from the replica that stored it first.
        room.notifyAll(room.workshopNotice(now));
        void this.store.setPhase(room.id, [stored], phase).then((first) => { if (first) room.publish(room.workshopEvent(Date.now())); },
          (err: Error) => this.log.error({ err, workshop: room.id }, 'workshop change not stored'));
      }
      if (now >= room.w.endsAt) {
        this.finish(room);
        continue;
      }
      if (now >= room.w.startsAt - this.settings.warmLeadMs) this.warm(room);
      if (!room.warned && now >= room.w.endsAt - this.settings.endWarningMs) {
        room.warned = true;
        room.notifyAll({ kind: 'ending', at: room.w.endsAt });
      }
      this.noteRecordings(room);
      // The dashboard's "warm boxes" counter follows the warm-up as it goes.
      const warm = this.sessions.reservedBoxes(room.id);
      if (warm !== room.warmSent) {
        room.warmSent = warm;
        room.publish(room.workshopEvent(now));
      }
      room.refresh(now);
    }
  }

  /** Deletes workshops that ended more than the retention period ago (their rows would pile up forever). */
  private purge(now: number): void {
    this.purgedAt = now;
    // Several servers sharing a database may purge at once: each deletes what is left.
    void this.store.deleteEndedBefore(now - this.settings.retentionMs).then(
      (gone) => { if (gone > 0) this.log.info({ workshops: gone }, 'ended workshops past their retention deleted'); },
      (err: Error) => this.log.error({ err }, 'purging ended workshops failed'));
  }

  /**
   * Keeps the workshop's warm boxes at the seats still free plus the reserve: this replica's share
   * of them, as every replica holds the room and learners are spread over them.
   */
  private warm(room: Room): void {
    const lab = this.labs().get(room.w.labs[0]!);
    if (!lab || !this.sessions.poolable(lab.id) || this.ending.has(room.id)) return;
    const target = Math.ceil(Math.max(0, room.w.seats - room.seats.size + this.settings.reserve) / this.replicaCount);
    this.sessions.reserve(room.id, lab.profile, target, this.settings.warmParallel);
  }

  /** Recordings a seat started become its report link. */
  private noteRecordings(room: Room): void {
    for (const seat of room.seats.values()) {
      if (!seat.session) continue;
      const ids = Object.values(this.recordings.runningFor(seat.session)).filter((r) => !seat.recordings.includes(r));
      if (ids.length === 0) continue;
      seat.recordings.push(...ids);
      room.save(seat);
    }
  }

  /**
   * The end, on this replica: its seats' sessions end (recordings close with them), its boxes and
   * warm boxes are destroyed. Every replica does it for its own, at endsAt by its clock or when
   * told the phase is stored as ended; the first to store it (`store`) tells the others and the dashboards.
   */
  private finish(room: Room, store = true): void {
    if (this.ending.has(room.id)) return;
    const done = (async () => {
      room.w.phase = 'ended';
      const first = store && await this.store.setPhase(room.id, ['scheduled', 'open'], 'ended')
        .catch((err: Error) => { this.log.error({ err, workshop: room.id }, 'workshop change not stored'); return false; });
      if (first) this.signals.send({ kind: 'workshop', workshop: room.id });
      const sessions = room.liveSessions();
      this.noteRecordings(room);
      room.close();
      await Promise.all([
        ...sessions.map((s) => this.sessions.end(s, 'ended')),
        this.sessions.releaseReserve(room.id),
      ]);
      for (const seat of room.seats.values()) {
        const mine = sessions.find((s) => s.id === seat.session);
        if (!mine) continue;
        room.setSession(seat, undefined, mine.id);
        room.save(seat);
      }
      room.flushRows();
      await room.saved();
      if (first) room.publish(room.workshopEvent(Date.now()));
      this.rooms.delete(room.id);
      this.log.info({ workshop: room.id, seats: room.seats.size }, 'workshop ended');
    })().catch((err: Error) => this.log.error({ err, workshop: room.id }, 'ending the workshop failed'));
    this.ending.set(room.id, done);
  }
}
