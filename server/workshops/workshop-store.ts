// Workshops, their seats and their dashboard events in SQLite, in the same database file as lab
// progress (its own connection; WAL lets both write). Workshops belong to the server instance that
// made them (TERMLAB_INSTANCE): servers sharing a state directory (tests, a second instance) never
// load, warm or end each other's. Events carry a per-workshop sequence number:
// a reconnecting dashboard asks for everything after the last one it saw.
import type Database from 'better-sqlite3';
import { openDatabase } from '../sqlite.js';
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
  private readonly db: Database.Database;

  constructor(file: string, private readonly instance: string) {
    this.db = openDatabase(file);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS workshops (
        id TEXT PRIMARY KEY, code TEXT UNIQUE NOT NULL, title TEXT NOT NULL, labs TEXT NOT NULL, seats INTEGER NOT NULL,
        starts_at INTEGER NOT NULL, ends_at INTEGER NOT NULL, paced INTEGER NOT NULL, unlocked_step INTEGER,
        instructor_hash TEXT NOT NULL, assistant_hash TEXT NOT NULL, phase TEXT NOT NULL, created INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS workshop_seats (
        workshop TEXT NOT NULL, seat TEXT NOT NULL, learner TEXT NOT NULL, name TEXT NOT NULL, joined_at INTEGER NOT NULL,
        session TEXT, lab TEXT NOT NULL, hand INTEGER NOT NULL, steps TEXT NOT NULL, recordings TEXT NOT NULL,
        PRIMARY KEY (workshop, seat), UNIQUE (workshop, learner));
      CREATE TABLE IF NOT EXISTS workshop_events (
        workshop TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL, at INTEGER NOT NULL,
        PRIMARY KEY (workshop, seq));
    `);
    // Added after the first version of the tables.
    this.addColumn('workshops', 'instance', "TEXT NOT NULL DEFAULT ''");
    this.addColumn('workshop_seats', 'past', "TEXT NOT NULL DEFAULT '{}'");
  }

  private addColumn(table: string, column: string, declaration: string): void {
    const columns = (this.db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name);
    if (columns.includes(column)) return;
    try {
      this.db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${declaration}`);
    } catch (err) {
      // Another server on the same file added it first.
      if (!/duplicate column/i.test((err as Error).message)) throw err;
    }
  }

  createWorkshop(w: WorkshopRecord): void {
    this.db.prepare(`INSERT INTO workshops (id, code, title, labs, seats, starts_at, ends_at, paced, unlocked_step,
      instructor_hash, assistant_hash, phase, created, instance) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      w.id, w.code, w.title, JSON.stringify(w.labs), w.seats, w.startsAt, w.endsAt, w.paced ? 1 : 0, w.unlockedStep ?? null,
      w.instructorHash, w.assistantHash, w.phase, w.createdAt, this.instance);
  }

  codeTaken(code: string): boolean {
    return this.db.prepare('SELECT 1 FROM workshops WHERE code = ?').get(code) !== undefined;
  }

  workshop(id: string): WorkshopRecord | undefined {
    const r = this.db.prepare('SELECT * FROM workshops WHERE id = ? AND instance = ?').get(id, this.instance) as WorkshopRow | undefined;
    return r && toWorkshop(r);
  }

  byCode(code: string): WorkshopRecord | undefined {
    const r = this.db.prepare('SELECT * FROM workshops WHERE code = ? AND instance = ?').get(code, this.instance) as WorkshopRow | undefined;
    return r && toWorkshop(r);
  }

  /** Workshops not ended yet (the service schedules their warm-up and end). */
  unfinished(): WorkshopRecord[] {
    return (this.db.prepare("SELECT * FROM workshops WHERE phase != 'ended' AND instance = ?").all(this.instance) as WorkshopRow[]).map(toWorkshop);
  }

  /**
   * Deletes the workshops that ended before `before`, with their seats and events, in one
   * transaction (a dashboard never sees a workshop without its seats). Returns how many went.
   */
  deleteEndedBefore(before: number): number {
    return this.db.transaction(() => {
      const ids = (this.db.prepare("SELECT id FROM workshops WHERE phase = 'ended' AND ends_at < ? AND instance = ?")
        .all(before, this.instance) as Array<{ id: string }>).map((r) => r.id);
      for (const id of ids) {
        this.db.prepare('DELETE FROM workshop_events WHERE workshop = ?').run(id);
        this.db.prepare('DELETE FROM workshop_seats WHERE workshop = ?').run(id);
        this.db.prepare('DELETE FROM workshops WHERE id = ?').run(id);
      }
      return ids.length;
    }).immediate();
  }

  update(id: string, change: { endsAt?: number; phase?: WorkshopPhase; unlockedStep?: number }): void {
    if (change.endsAt !== undefined) this.db.prepare('UPDATE workshops SET ends_at = ? WHERE id = ?').run(change.endsAt, id);
    if (change.phase !== undefined) this.db.prepare('UPDATE workshops SET phase = ? WHERE id = ?').run(change.phase, id);
    if (change.unlockedStep !== undefined) this.db.prepare('UPDATE workshops SET unlocked_step = ? WHERE id = ?').run(change.unlockedStep, id);
  }

  seats(workshop: string): SeatRecord[] {
    return (this.db.prepare('SELECT * FROM workshop_seats WHERE workshop = ? ORDER BY CAST(seat AS INTEGER)').all(workshop) as SeatDbRow[]).map(toSeat);
  }

  seatOf(workshop: string, learner: string): SeatRecord | undefined {
    const r = this.db.prepare('SELECT * FROM workshop_seats WHERE workshop = ? AND learner = ?').get(workshop, learner) as SeatDbRow | undefined;
    return r && toSeat(r);
  }

  /**
   * Takes the lowest free seat for this learner, or answers undefined when all are taken. One
   * transaction: two learners racing for the last seat cannot both get it.
   */
  takeSeat(workshop: string, capacity: number, seat: Omit<SeatRecord, 'workshop' | 'seat'>): SeatRecord | undefined {
    return this.db.transaction(() => {
      const taken = new Set((this.db.prepare('SELECT seat FROM workshop_seats WHERE workshop = ?').all(workshop) as Array<{ seat: string }>).map((r) => r.seat));
      if (taken.size >= capacity) return undefined;
      let n = 1;
      while (taken.has(String(n))) n++;
      const record: SeatRecord = { ...seat, workshop, seat: String(n) };
      this.saveSeat(record, true);
      return record;
    }).immediate();
  }

  saveSeat(s: SeatRecord, insert = false): void {
    const values = [s.learner, s.name, s.joinedAt, s.session ?? null, s.lab, s.hand ? 1 : 0, JSON.stringify(s.steps), JSON.stringify(s.past),
      JSON.stringify(s.recordings), s.workshop, s.seat];
    if (insert) {
      this.db.prepare(`INSERT INTO workshop_seats (learner, name, joined_at, session, lab, hand, steps, past, recordings, workshop, seat)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(...values);
    } else {
      this.db.prepare(`UPDATE workshop_seats SET learner = ?, name = ?, joined_at = ?, session = ?, lab = ?, hand = ?, steps = ?,
        past = ?, recordings = ? WHERE workshop = ? AND seat = ?`).run(...values);
    }
  }

  /** Appends an event with the next sequence number; keeps only the newest `keep` of the workshop's. */
  appendEvent(workshop: string, event: WorkshopEvent, keep: number): StoredEvent {
    // IMMEDIATE: the write lock is taken before the read, so another writer (the progress store,
    // another server on the same file) makes it wait (busy_timeout) instead of failing it with
    // SQLITE_BUSY_SNAPSHOT, as a read upgraded to a write would.
    return this.db.transaction(() => {
      const seq = this.lastSeq(workshop) + 1;
      const at = Date.now();
      this.db.prepare('INSERT INTO workshop_events (workshop, seq, data, at) VALUES (?, ?, ?, ?)').run(workshop, seq, JSON.stringify(event), at);
      // Pruned in batches of a tenth, so most appends do not delete.
      if (seq > keep && seq % Math.max(1, Math.floor(keep / 10)) === 0) {
        this.db.prepare('DELETE FROM workshop_events WHERE workshop = ? AND seq <= ?').run(workshop, seq - keep);
      }
      return { seq, event, at };
    }).immediate();
  }

  lastSeq(workshop: string): number {
    const r = this.db.prepare('SELECT MAX(seq) AS seq FROM workshop_events WHERE workshop = ?').get(workshop) as { seq: number | null };
    return r.seq ?? 0;
  }

  /** The oldest sequence number still kept (0 when none are). */
  firstSeq(workshop: string): number {
    const r = this.db.prepare('SELECT MIN(seq) AS seq FROM workshop_events WHERE workshop = ?').get(workshop) as { seq: number | null };
    return r.seq ?? 0;
  }

  eventCount(workshop: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM workshop_events WHERE workshop = ?').get(workshop) as { n: number }).n;
  }

  eventsAfter(workshop: string, seq: number): StoredEvent[] {
    return (this.db.prepare('SELECT seq, data, at FROM workshop_events WHERE workshop = ? AND seq > ? ORDER BY seq').all(workshop, seq) as
      Array<{ seq: number; data: string; at: number }>).map((r) => ({ seq: r.seq, event: JSON.parse(r.data) as WorkshopEvent, at: r.at }));
  }

  close(): void { this.db.close(); }
}
