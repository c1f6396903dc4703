// Pre-started boxes, kept in the database so that every replica of an instance whose boxes live in
// the same place (one Docker engine, one cluster) can hand any of them out, and each exactly once:
// a claim is the delete of the box's row, and only the replica whose delete took the row uses the
// box. A pool is then one per instance, not one per replica, and a replica's pre-started boxes
// serve learners who land on another.
//
// Rows name the replica that made the box; the sweep forgets the rows of replicas that are gone
// (their boxes go with their leftovers), and a stopping replica claims and destroys its own.
import type { SandboxProfile } from '../../protocol/api.js';
import type { BoxHandle } from '../sandbox/sandbox-driver.js';
import type { Database } from '../store/database.js';
import { migrate } from '../store/schema.js';

export interface PooledBox { session: string; box: BoxHandle }

/** Ready boxes per profile: the instance's, and this replica's own (whose memory its host holds). */
export interface PoolCounts { all: Partial<Record<SandboxProfile, number>>; mine: Partial<Record<SandboxProfile, number>> }

interface Row { session: string; box: string; replica: string }

export class WarmPool {
  private constructor(private readonly db: Database, private readonly instance: string, private readonly replica: string,
    private readonly placeOf: () => string) {}

  /** `place`: SandboxDriver.place, asked when first needed (the pool is opened before the driver: see forget()). */
  static async open(db: Database, instance: string, replica: string, place: () => string): Promise<WarmPool> {
    await migrate(db, 'sessions');
    // On SQLite a server is alone: rows its previous run left name boxes its start sweeps away.
    if (db.dialect === 'sqlite') await db.run('DELETE FROM pool_boxes WHERE instance = ?', [instance]);
    return new WarmPool(db, instance, replica, place);
  }

  async add(profile: SandboxProfile, pooled: PooledBox): Promise<void> {
    await this.db.run('INSERT INTO pool_boxes (session, instance, place, profile, replica, box, created) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [pooled.session, this.instance, this.placeOf(), profile, this.replica, JSON.stringify(pooled.box), Date.now()]);
  }

  /** The oldest ready box of this profile, now this caller's alone; undefined when the pool is empty. */
  async claim(profile: SandboxProfile): Promise<PooledBox | undefined> {
    // One statement: the row is picked and deleted at once. PostgreSQL skips rows other claims hold
    // (without it, claims racing for the oldest row would all but one come back empty); SQLite runs
    // one writer at a time.
    const skipLocked = this.db.dialect === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : '';
    const row = await this.db.get<Row>('DELETE FROM pool_boxes WHERE session = (SELECT session FROM pool_boxes ' +
      `WHERE instance = ? AND place = ? AND profile = ? ORDER BY created, session LIMIT 1${skipLocked}) RETURNING session, box, replica`,
    [this.instance, this.placeOf(), profile]);
    return row ? { session: row.session, box: JSON.parse(row.box) as BoxHandle } : undefined;
  }

  async counts(): Promise<PoolCounts> {
    const rows = await this.db.all<{ profile: SandboxProfile; replica: string; n: number }>(
      'SELECT profile, replica, COUNT(*) AS n FROM pool_boxes WHERE instance = ? AND place = ? GROUP BY profile, replica', [this.instance, this.placeOf()]);
    const counts: PoolCounts = { all: {}, mine: {} };
    for (const r of rows) {
      counts.all[r.profile] = (counts.all[r.profile] ?? 0) + Number(r.n);
      if (r.replica === this.replica) counts.mine[r.profile] = (counts.mine[r.profile] ?? 0) + Number(r.n);
    }
    return counts;
  }

  /** Claims every box this replica made that nobody took (its stop destroys them). */
  async takeMine(): Promise<PooledBox[]> {
    const rows = await this.db.all<Row>('SELECT session, box, replica FROM pool_boxes WHERE instance = ? AND replica = ?', [this.instance, this.replica]);
    const mine: PooledBox[] = [];
    for (const row of rows) {
      if ((await this.db.run('DELETE FROM pool_boxes WHERE session = ?', [row.session])).changes === 1) {
        mine.push({ session: row.session, box: JSON.parse(row.box) as BoxHandle });
      }
    }
    return mine;
  }

  /**
   * Before a sweep of leftovers (the driver's at start too): the rows of replicas not in `live` go,
   * first, so no claim takes a box the sweep removes.
   */
  async forget(live: ReadonlySet<string>): Promise<void> {
    const makers = await this.db.all<{ replica: string }>('SELECT DISTINCT replica FROM pool_boxes WHERE instance = ?', [this.instance]);
    for (const { replica } of makers) {
      if (!live.has(replica)) await this.db.run('DELETE FROM pool_boxes WHERE instance = ? AND replica = ?', [this.instance, replica]);
    }
  }
}
