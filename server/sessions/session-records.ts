// Sessions as the database knows them, so that any replica sharing it can carry a session on: a
// browser whose replica died (or stopped) reconnects to another, which finds the session here by
// its token's hash, takes it over and re-attaches to its boxes (on Kubernetes to the very shell,
// kept in dtach in the pod).
//
// A row names the replica that owns the session now. Ownership moves by compare-and-set, and boxes
// are destroyed only by the replica that deletes the row as its owner (release()), so two replicas
// never both destroy, and a replica that lost a session to another never destroys it under them.
// Rows of replicas that are gone and whose sessions nobody took are deleted by the sweep, and
// their boxes go with the replica's leftovers. Only replicas whose boxes live in the same place
// (one Docker engine, one cluster: SandboxDriver.place) adopt each other's sessions.
import type { BoxHandle } from '../sandbox/sandbox-driver.js';
import { instanceChannel, type Database } from '../store/database.js';
import { migrate } from '../store/schema.js';

export interface SessionRecord {
  id: string;
  lab: string;
  /** Host name → the backend's handle for its box (plain data). */
  boxes: Record<string, BoxHandle>;
  createdAt: number;
  expiresAt: number;
  extensionsLeft: number;
  extendMs: number;
  workshop?: string;
}

interface Row {
  id: string; lab: string; replica: string; boxes: string; created: number; expires: number;
  extensions_left: number; extend_ms: number; workshop: string | null;
}

function toRecord(r: Row): SessionRecord {
  return {
    id: r.id, lab: r.lab, boxes: JSON.parse(r.boxes) as Record<string, BoxHandle>, createdAt: Number(r.created),
    expiresAt: Number(r.expires), extensionsLeft: r.extensions_left, extendMs: Number(r.extend_ms),
    ...(r.workshop ? { workshop: r.workshop } : {}),
  };
}

/** Session ids are newSessionId()'s: what a "taken" notification may carry. */
const SESSION_ID = /^[a-z0-9]{1,32}$/;

/** What ending a session found: the boxes are this replica's to destroy, or another replica carries the session on. */
export type Release = 'destroy' | 'taken';

export class SessionRecords {
  /** Where a replica that took a session over says so, for the replica that had it (one per instance). */
  private readonly channel: string;

  private constructor(private readonly db: Database, private readonly instance: string, readonly replica: string,
    private readonly placeOf: () => string) {
    this.channel = instanceChannel('taken', instance);
  }

  /**
   * Calls `lost` with the id of each session another replica took over from this one (its page
   * moved there while this replica still runs: the load balancer rehashed). The notification only
   * names the session: the row says whether this replica still owns it. Resolves to the function
   * that stops listening.
   */
  onTaken(lost: (id: string) => void): Promise<() => void> {
    return this.db.listen(this.channel, {
      onNotify: (payload) => {
        if (!SESSION_ID.test(payload)) return;
        void this.db.get<{ replica: string }>('SELECT replica FROM sessions WHERE id = ? AND instance = ?', [payload, this.instance])
          .then((row) => { if (row && row.replica !== this.replica) lost(payload); }, () => {});
      },
    });
  }

  /**
   * `place`: SandboxDriver.place, asked when first needed (the records are opened before the driver,
   * whose sweep at start must spare the sessions live replicas adopted).
   */
  static async open(db: Database, instance: string, replica: string, place: () => string): Promise<SessionRecords> {
    await migrate(db, 'sessions');
    const records = new SessionRecords(db, instance, replica, place);
    // On SQLite a server is alone: rows left by its previous run name boxes its start sweeps away.
    if (db.dialect === 'sqlite') await db.run('DELETE FROM sessions WHERE instance = ?', [instance]);
    return records;
  }

  async save(tokenHash: string, r: SessionRecord): Promise<void> {
    await this.db.run(
      'INSERT INTO sessions (id, instance, place, token_hash, lab, replica, boxes, created, expires, extensions_left, extend_ms, workshop) ' +
      'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [r.id, this.instance, this.placeOf(), tokenHash, r.lab, this.replica, JSON.stringify(r.boxes), r.createdAt, r.expiresAt, r.extensionsLeft,
        r.extendMs, r.workshop ?? null]);
  }

  /** The lifetime moved on (an extension): a replica adopting the session must not give it back. */
  async saveLifetime(id: string, expiresAt: number, extensionsLeft: number): Promise<void> {
    await this.db.run('UPDATE sessions SET expires = ?, extensions_left = ? WHERE id = ? AND instance = ?', [expiresAt, extensionsLeft, id, this.instance]);
  }

  /**
   * Takes the session with this token hash over from whichever replica owns it, or undefined when
   * there is none (ended, swept, or never made). Two replicas adopting at once: one wins, the other
   * sees the winner as the owner and takes it from the winner (the browser is on the latest one).
   */
  async adopt(tokenHash: string): Promise<SessionRecord | undefined> {
    for (let tries = 0; tries < 3; tries++) {
      const row = await this.db.get<Row>(
        'SELECT id, lab, replica, boxes, created, expires, extensions_left, extend_ms, workshop FROM sessions WHERE instance = ? AND place = ? AND token_hash = ?',
        [this.instance, this.placeOf(), tokenHash]);
      if (!row) return undefined;
      if (row.replica === this.replica) return toRecord(row);
      const moved = await this.db.run('UPDATE sessions SET replica = ? WHERE id = ? AND replica = ?', [this.replica, row.id, row.replica]);
      if (moved.changes === 1) {
        // The replica that had it may still run it: it lets it go (without touching the boxes).
        await this.db.notify(this.channel, row.id).catch(() => {});
        return toRecord(row);
      }
    }
    return undefined;
  }

  /** The address another replica that owns this session published in its lease (empty or undefined: none known). */
  async ownerAddress(id: string): Promise<string | undefined> {
    const row = await this.db.get<{ address: string }>(
      'SELECT r.address FROM sessions s JOIN replicas r ON r.instance = s.instance AND r.id = s.replica ' +
      'WHERE s.id = ? AND s.instance = ? AND s.replica <> ?', [id, this.instance, this.replica]);
    return row?.address || undefined;
  }

  /**
   * Ends this replica's ownership: 'destroy' when the row was this replica's (or is gone: a sweep
   * that took this replica for dead), 'taken' when another replica adopted the session.
   */
  async release(id: string): Promise<Release> {
    const deleted = await this.db.run('DELETE FROM sessions WHERE id = ? AND instance = ? AND replica = ?', [id, this.instance, this.replica]);
    if (deleted.changes === 1) return 'destroy';
    const row = await this.db.get<{ replica: string }>('SELECT replica FROM sessions WHERE id = ? AND instance = ?', [id, this.instance]);
    return row ? 'taken' : 'destroy';
  }

  /**
   * Before a sweep of leftovers: deletes the rows of replicas that are not in `live` (nobody took
   * their sessions over in time; a browser reconnecting later is told the session ended) and
   * returns the sessions the live replicas own, whose boxes the sweep must leave wherever they came from.
   * Deleting first means a session adopted after this read was still a row, so it is in the answer.
   */
  async spareFor(live: ReadonlySet<string>): Promise<Set<string>> {
    const rows = await this.db.all<{ id: string; replica: string }>('SELECT id, replica FROM sessions WHERE instance = ?', [this.instance]);
    const spare = new Set<string>();
    for (const r of rows) {
      if (live.has(r.replica)) { spare.add(r.id); continue; }
      const gone = await this.db.run('DELETE FROM sessions WHERE id = ? AND replica = ?', [r.id, r.replica]);
      // Adopted between the read and the delete: a live replica owns it now.
      if (gone.changes === 0) spare.add(r.id);
    }
    return spare;
  }
}
