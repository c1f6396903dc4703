// Which servers of an instance are alive, for servers sharing one database (replicas behind a load
// balancer). Every box a server makes carries its replica id; a server sweeping leftovers (at start,
// now and then, at stop) removes only boxes whose server is gone, never a live replica's. Without
// this, a replica starting or stopping ended every other replica's sessions.
//
// A lease is a row renewed every `beatMs`; one not renewed for `ttlMs` is a server that crashed or
// lost the database, and its boxes are leftovers. Rows of servers long gone are deleted, so the
// table holds about as many rows as servers started in the last day.
import type { Database } from './database.js';
import { migrate } from './schema.js';

/** Leases older than this are deleted outright (ms). */
const FORGET_MS = 24 * 3600_000;

export class ReplicaLeases {
  private timer: NodeJS.Timeout | undefined;
  /** Where the other replicas reach this one (set once it listens). */
  private address = '';
  /** When renewing this server's own lease last failed (the database out of reach). */
  private failedAt: number | undefined;

  private constructor(private readonly db: Database, readonly instance: string, readonly id: string,
    private readonly ttlMs: number) {}

  /** Takes this server's lease, renewed every `beatMs` until leave(); a lease unrenewed for 3 beats has lapsed. */
  static async take(db: Database, instance: string, id: string, beatMs: number, onError: (err: Error) => void): Promise<ReplicaLeases> {
    await migrate(db, 'replicas');
    const leases = new ReplicaLeases(db, instance, id, 3 * beatMs);
    await leases.beat();
    leases.timer = setInterval(() => void leases.beat().catch(onError), beatMs);
    leases.timer.unref();
    return leases;
  }

  private async beat(): Promise<void> {
    try {
      await this.db.run('INSERT INTO replicas (instance, id, seen, address) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (instance, id) DO UPDATE SET seen = excluded.seen, address = excluded.address',
      [this.instance, this.id, Date.now(), this.address]);
    } catch (err) {
      this.failedAt = Date.now();
      throw err;
    }
  }

  /**
   * The replicas whose boxes a sweep must spare (the live ones, this one included), or undefined
   * when no sweep may run: after this server could not reach the database, the others' leases may
   * be stale only because they could not renew theirs either, so it waits a whole lease term.
   */
  async spareForSweep(): Promise<Set<string> | undefined> {
    if (this.failedAt !== undefined && Date.now() - this.failedAt < this.ttlMs) return undefined;
    return this.live();
  }

  /**
   * The ids of this instance's servers whose lease holds, this one included. On SQLite only this
   * one: the file is one server's, and another process on it is that server restarted (after a
   * crash, say), whose boxes are leftovers to remove at once, not a replica's to spare.
   */
  async live(): Promise<Set<string>> {
    const now = Date.now();
    await this.db.run('DELETE FROM replicas WHERE instance = ? AND seen < ?', [this.instance, now - FORGET_MS]);
    if (this.db.dialect === 'sqlite') return new Set([this.id]);
    const rows = await this.db.all<{ id: string }>('SELECT id FROM replicas WHERE instance = ? AND seen >= ?', [this.instance, now - this.ttlMs]);
    return new Set(rows.map((r) => r.id));
  }

  /** The other servers whose lease holds: what this one must leave alone when it stops. */
  async others(): Promise<Set<string>> {
    const live = await this.live();
    live.delete(this.id);
    return live;
  }

  /** Publishes where the other replicas reach this one (its lease carries it from now on). */
  async publish(address: string): Promise<void> {
    this.address = address;
    await this.beat();
  }

  /** Gives the lease up (a clean stop): the others need not wait for it to lapse. */
  async leave(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.db.run('DELETE FROM replicas WHERE instance = ? AND id = ?', [this.instance, this.id]);
  }
}
