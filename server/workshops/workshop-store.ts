// Workshops, their seats and their dashboard events, in the same database as lab progress (SQLite
// or PostgreSQL, server/store/). Workshops belong to the server instance that made them
// (TERMLAB_INSTANCE): servers sharing a database with another instance name (tests, a second
// instance) never load, warm or end each other's; replicas sharing one name share its workshops. Events carry a per-workshop sequence number:
// a reconnecting dashboard asks for everything after the last one it saw.
import type { Database, Queryable } from '../store/database.js';
import { migrate } from '../store/schema.js';
import type { SeatStep, WorkshopEvent, WorkshopPhase } from '../../protocol/workshops.js';

export interface WorkshopRecord {
  id: string;
  code: string;
  title: string;
  labs: string[];
  seats: number;
  startsAt: number;
  endsAt: number;
  paced: boolean;
  unlockedStep?: number;
  instructorHash: string;
  assistantHash: string;
  phase: WorkshopPhase;
  createdAt: number;
}

export interface SeatRecord {
  workshop: string;
  seat: string;
  /** The learner cookie holding the seat. */
  learner: string;
  name: string;
  joinedAt: number;
  /** The seat's live session (a reset replaces it); undefined until its box exists, and after the end. */
  session?: string;
  lab: string;
  hand: boolean;
  /** Steps of the lab the seat is on now. */
  steps: SeatStep[];
  /** Steps of the workshop's labs the seat finished before this one, by lab id. */
  past: Record<string, SeatStep[]>;
  recordings: string[];
}

export interface StoredEvent { seq: number; event: WorkshopEvent; at: number }

interface WorkshopRow {
  id: string; code: string; title: string; labs: string; seats: number; starts_at: number; ends_at: number; paced: number;
  unlocked_step: number | null; instructor_hash: string; assistant_hash: string; phase: string; created: number;
}
interface SeatDbRow {
  workshop: string; seat: string; learner: string; name: string; joined_at: number; session: string | null; lab: string;
  hand: number; steps: string; past: string; recordings: string;
}

function toWorkshop(r: WorkshopRow): WorkshopRecord {
  return {
    id: r.id, code: r.code, title: r.title, labs: JSON.parse(r.labs) as string[], seats: r.seats, startsAt: r.starts_at,
    endsAt: r.ends_at, paced: r.paced === 1, unlockedStep: r.unlocked_step ?? undefined, instructorHash: r.instructor_hash,
    assistantHash: r.assistant_hash, phase: r.phase as WorkshopPhase, createdAt: r.created,
  };
}

function toSeat(r: SeatDbRow): SeatRecord {
  return {
    workshop: r.workshop, seat: r.seat, learner: r.learner, name: r.name, joinedAt: r.joined_at, session: r.session ?? undefined,
    lab: r.lab, hand: r.hand === 1, steps: JSON.parse(r.steps) as SeatStep[], past: JSON.parse(r.past) as Record<string, SeatStep[]>, recordings: JSON.parse(r.recordings) as string[],
  };
}

export class WorkshopStore {
  /** `db`: also what replicas signal each other through (room-signals.ts). */
  private constructor(readonly db: Database, private readonly instance: string) {}

  static async open(db: Database, instance: string): Promise<WorkshopStore> {
    await migrate(db, 'workshops');
    return new WorkshopStore(db, instance);
  }

  async createWorkshop(w: WorkshopRecord): Promise<void> {
    await this.db.run(`INSERT INTO workshops (id, code, title, labs, seats, starts_at, ends_at, paced, unlocked_step,
      instructor_hash, assistant_hash, phase, created, instance) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
      w.id, w.code, w.title, JSON.stringify(w.labs), w.seats, w.startsAt, w.endsAt, w.paced ? 1 : 0, w.unlockedStep ?? null,
      w.instructorHash, w.assistantHash, w.phase, w.createdAt, this.instance]);
  }

  async codeTaken(code: string): Promise<boolean> {
    return (await this.db.get('SELECT 1 FROM workshops WHERE code = ?', [code])) !== undefined;
  }

  async workshop(id: string): Promise<WorkshopRecord | undefined> {
    const r = await this.db.get<WorkshopRow>('SELECT * FROM workshops WHERE id = ? AND instance = ?', [id, this.instance]);
    return r && toWorkshop(r);
  }

  async byCode(code: string): Promise<WorkshopRecord | undefined> {
    const r = await this.db.get<WorkshopRow>('SELECT * FROM workshops WHERE code = ? AND instance = ?', [code, this.instance]);
    return r && toWorkshop(r);
  }

  /** Workshops not ended yet (the service schedules their warm-up and end). */
  async unfinished(): Promise<WorkshopRecord[]> {
    return (await this.db.all<WorkshopRow>("SELECT * FROM workshops WHERE phase != 'ended' AND instance = ?", [this.instance])).map(toWorkshop);
  }

  /**
   * Deletes the workshops that ended before `before`, with their seats and events, in one
   * transaction (a dashboard never sees a workshop without its seats). Returns how many went.
   * Several servers may purge at once: a workshop another deleted first is simply not counted.
   */
  deleteEndedBefore(before: number): Promise<number> {
    return this.db.transaction(async (tx) => {
      const ids = (await tx.all<{ id: string }>("SELECT id FROM workshops WHERE phase = 'ended' AND ends_at < ? AND instance = ?",
        [before, this.instance])).map((r) => r.id);
      let gone = 0;
      for (const id of ids) {
        await tx.run('DELETE FROM workshop_events WHERE workshop = ?', [id]);
        await tx.run('DELETE FROM workshop_seats WHERE workshop = ?', [id]);
        gone += (await tx.run('DELETE FROM workshops WHERE id = ?', [id])).changes;
      }
      return gone;
    });
  }

  /**
   * Moves the workshop from phase `from` to `to`; false when it was not in `from` (another replica
   * moved it first): with several replicas ticking, one of them announces each change.
   */
  async setPhase(id: string, from: WorkshopPhase[], to: WorkshopPhase): Promise<boolean> {
    const marks = from.map(() => '?').join(', ');
    return (await this.db.run(`UPDATE workshops SET phase = ? WHERE id = ? AND phase IN (${marks})`, [to, id, ...from])).changes > 0;
  }

  async update(id: string, change: { endsAt?: number; phase?: WorkshopPhase; unlockedStep?: number }): Promise<void> {
    if (change.endsAt !== undefined) await this.db.run('UPDATE workshops SET ends_at = ? WHERE id = ?', [change.endsAt, id]);
    if (change.phase !== undefined) await this.db.run('UPDATE workshops SET phase = ? WHERE id = ?', [change.phase, id]);
    if (change.unlockedStep !== undefined) await this.db.run('UPDATE workshops SET unlocked_step = ? WHERE id = ?', [change.unlockedStep, id]);
  }

  async seats(workshop: string): Promise<SeatRecord[]> {
    return (await this.db.all<SeatDbRow>('SELECT * FROM workshop_seats WHERE workshop = ? ORDER BY CAST(seat AS INTEGER)', [workshop])).map(toSeat);
  }

  async seatOf(workshop: string, learner: string): Promise<SeatRecord | undefined> {
    const r = await this.db.get<SeatDbRow>('SELECT * FROM workshop_seats WHERE workshop = ? AND learner = ?', [workshop, learner]);
    return r && toSeat(r);
  }

  /**
   * Takes the lowest free seat for this learner, or answers undefined when all are taken; a learner
   * who already holds one (joined at once on another server) gets theirs. One transaction holding
   * the workshop's seats: two learners racing for the last seat, on any servers, cannot both get it.
   */
  takeSeat(workshop: string, capacity: number, seat: Omit<SeatRecord, 'workshop' | 'seat'>): Promise<SeatRecord | undefined> {
    return this.db.transaction(async (tx) => {
      await tx.lock(`seats:${workshop}`);
      const rows = await tx.all<SeatDbRow>('SELECT * FROM workshop_seats WHERE workshop = ?', [workshop]);
      const mine = rows.find((r) => r.learner === seat.learner);
      if (mine) return toSeat(mine);
      const taken = new Set(rows.map((r) => r.seat));
      if (taken.size >= capacity) return undefined;
      let n = 1;
      while (taken.has(String(n))) n++;
      const record: SeatRecord = { ...seat, workshop, seat: String(n) };
      await writeSeat(tx, record, true);
      return record;
    });
  }

  saveSeat(s: SeatRecord): Promise<void> { return writeSeat(this.db, s, false); }

  /**
   * The columns only the replica holding the seat's session writes (its name, lab, steps, history,
   * recordings): not its hand or session, which an instructor on any replica may change. A write of
   * the whole row from a stale copy would undo those.
   */
  async saveWork(s: SeatRecord): Promise<void> {
    await this.db.run('UPDATE workshop_seats SET name = ?, lab = ?, steps = ?, past = ?, recordings = ? WHERE workshop = ? AND seat = ?',
      [s.name, s.lab, JSON.stringify(s.steps), JSON.stringify(s.past), JSON.stringify(s.recordings), s.workshop, s.seat]);
  }

  async setHand(workshop: string, seat: string, hand: boolean): Promise<void> {
    await this.db.run('UPDATE workshop_seats SET hand = ? WHERE workshop = ? AND seat = ?', [hand ? 1 : 0, workshop, seat]);
  }

  /** Sets the seat's session; with `onlyIf`, only while it is that one (a reset does not undo a newer join). */
  async setSession(workshop: string, seat: string, session: string | undefined, onlyIf?: string): Promise<boolean> {
    const sql = `UPDATE workshop_seats SET session = ? WHERE workshop = ? AND seat = ?${onlyIf === undefined ? '' : ' AND session = ?'}`;
    const params = [session ?? null, workshop, seat, ...(onlyIf === undefined ? [] : [onlyIf])];
    return (await this.db.run(sql, params)).changes > 0;
  }

  /**
   * Appends an event with the next sequence number (unique and gap-free per workshop, whichever
   * server appends); keeps only the newest `keep` of the workshop's.
   */
  appendEvent(workshop: string, event: WorkshopEvent, keep: number): Promise<StoredEvent> {
    // The lock is taken before the read: two appends never read the same last number. (SQLite's
    // transactions are IMMEDIATE: the file's write lock is taken first, for the same reason.)
    return this.db.transaction(async (tx) => {
      await tx.lock(`events:${workshop}`);
      const seq = (await lastSeq(tx, workshop)) + 1;
      const at = Date.now();
      await tx.run('INSERT INTO workshop_events (workshop, seq, data, at) VALUES (?, ?, ?, ?)', [workshop, seq, JSON.stringify(event), at]);
      // Pruned in batches of a tenth, so most appends do not delete.
      if (seq > keep && seq % Math.max(1, Math.floor(keep / 10)) === 0) {
        await tx.run('DELETE FROM workshop_events WHERE workshop = ? AND seq <= ?', [workshop, seq - keep]);
      }
      return { seq, event, at };
    });
  }

  lastSeq(workshop: string): Promise<number> { return lastSeq(this.db, workshop); }

  /** The oldest sequence number still kept (0 when none are). */
  async firstSeq(workshop: string): Promise<number> {
    const r = await this.db.get<{ seq: number | null }>('SELECT MIN(seq) AS seq FROM workshop_events WHERE workshop = ?', [workshop]);
    return r?.seq ?? 0;
  }

  async eventCount(workshop: string): Promise<number> {
    return (await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM workshop_events WHERE workshop = ?', [workshop]))!.n;
  }

  async eventsAfter(workshop: string, seq: number): Promise<StoredEvent[]> {
    return (await this.db.all<{ seq: number; data: string; at: number }>('SELECT seq, data, at FROM workshop_events WHERE workshop = ? AND seq > ? ORDER BY seq',
      [workshop, seq])).map((r) => ({ seq: r.seq, event: JSON.parse(r.data) as WorkshopEvent, at: r.at }));
  }
}

async function lastSeq(db: Queryable, workshop: string): Promise<number> {
  const r = await db.get<{ seq: number | null }>('SELECT MAX(seq) AS seq FROM workshop_events WHERE workshop = ?', [workshop]);
  return r?.seq ?? 0;
}

async function writeSeat(db: Queryable, s: SeatRecord, insert: boolean): Promise<void> {
  const values = [s.learner, s.name, s.joinedAt, s.session ?? null, s.lab, s.hand ? 1 : 0, JSON.stringify(s.steps), JSON.stringify(s.past),
    JSON.stringify(s.recordings), s.workshop, s.seat];
  if (insert) {
    await db.run(`INSERT INTO workshop_seats (learner, name, joined_at, session, lab, hand, steps, past, recordings, workshop, seat)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, values);
  } else {
    await db.run(`UPDATE workshop_seats SET learner = ?, name = ?, joined_at = ?, session = ?, lab = ?, hand = ?, steps = ?,
      past = ?, recordings = ? WHERE workshop = ? AND seat = ?`, values);
  }
}
