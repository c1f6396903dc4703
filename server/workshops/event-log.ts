// A workshop's dashboard events: each is stored with the next sequence number, then handed to the
// dashboards listening now. Storing first is what lets a dashboard that lost its connection ask
// for "everything after N" and get exactly the events it missed.
//
// Replicas sharing the database append to the same numbering: an event appended elsewhere reaches
// this replica's listeners when a signal says the workshop has events past the last one handed
// over here; they are read from the table (the signal only says "look"), in order, with no gap
// and no repeat. An event appended here after one appended elsewhere that was not read yet waits
// for it: listeners always get sequence order.
import type { WorkshopEvent } from '../../protocol/workshops.js';
import type { RoomSignals } from './room-signals.js';
import type { StoredEvent, WorkshopStore } from './workshop-store.js';

export interface FollowStart {
  /** Events after `afterSeq`, or undefined when they are no longer kept (or `afterSeq` is unknown). */
  missed?: StoredEvent[];
  lastSeq: number;
}

/** `remote`: appended by another replica. */
export type EventListener = (e: StoredEvent, remote: boolean) => void;

interface Follower {
  onEvent: EventListener;
  /** Events were pruned before this replica read them: the follower starts afresh. */
  onLost?: () => void;
  /** The server's own (a room), not a dashboard: not counted by listening(). */
  internal: boolean;
}

export class EventLog {
  private readonly followers = new Map<string, Set<Follower>>();
  /** Per followed workshop, the last sequence number handed to its followers. */
  private readonly delivered = new Map<string, number>();
  /** Workshops with a read of other replicas' events queued and not started (one is enough). */
  private readonly catching = new Set<string>();
  /**
   * Per workshop, the last publish or follow queued: they run one at a time, in order, so
   * listeners get events in sequence order and a follow's read and subscription have no gap.
   */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly store: WorkshopStore, private readonly keep: number, private readonly signals?: RoomSignals) {}

  publish(workshop: string, event: WorkshopEvent): Promise<StoredEvent> {
    return this.queued(workshop, async () => {
      const stored = await this.store.appendEvent(workshop, event, this.keep);
      const done = this.delivered.get(workshop);
      if (done !== undefined) {
        // Another replica's events numbered before this one and not read yet go first.
        if (stored.seq > done + 1) await this.catchUpNow(workshop, stored.seq - 1);
        this.hand(workshop, stored, false);
      }
      this.signals?.send({ kind: 'events', workshop, seq: stored.seq });
      return stored;
    });
  }

  /**
   * Calls `begin` with the events after `afterSeq` (or, when they are no longer kept, just the last
   * sequence number: the caller sends a fresh state instead, stamped with it), then `listener` with
   * every later event, with no gap and no repeat. Resolves to the function that stops following.
   */
  follow(workshop: string, afterSeq: number | undefined, listener: EventListener, begin: (start: FollowStart) => void | Promise<void>,
    options: { onLost?: () => void; internal?: boolean } = {}): Promise<() => void> {
    return this.queued(workshop, async () => {
      // Followers already here first get what other replicas appended: the newcomer starts where they are.
      if (this.delivered.has(workshop)) await this.catchUpNow(workshop);
      else this.delivered.set(workshop, await this.store.lastSeq(workshop));
      const lastSeq = this.delivered.get(workshop)!;
      const first = await this.store.firstSeq(workshop);
      const resumable = afterSeq !== undefined && afterSeq <= lastSeq && (afterSeq >= first - 1 || lastSeq === 0);
      const missed = resumable ? (await this.store.eventsAfter(workshop, afterSeq)).filter((e) => e.seq <= lastSeq) : undefined;
      const follower: Follower = { onEvent: listener, onLost: options.onLost, internal: options.internal ?? false };
      try {
        await begin({ missed, lastSeq });
      } catch (err) {
        if (!this.followers.has(workshop)) this.delivered.delete(workshop);
        throw err;
      }
      const set = this.followers.get(workshop) ?? new Set();
      set.add(follower);
      this.followers.set(workshop, set);
      return () => {
        const set = this.followers.get(workshop);
        if (!set?.delete(follower) || set.size > 0) return;
        this.followers.delete(workshop);
        this.delivered.delete(workshop);
      };
    });
  }

  /** Dashboards connected to this workshop now (on this replica). */
  listening(workshop: string): number {
    return [...this.followers.get(workshop) ?? []].filter((f) => !f.internal).length;
  }

  /** Another replica appended events up to `seq`: read them, unless they were handed over already or a read is queued. */
  heard(workshop: string, seq: number): void {
    const done = this.delivered.get(workshop);
    if (done === undefined || seq <= done || this.catching.has(workshop)) return;
    this.catchUp(workshop);
  }

  /** Signals may have been lost: every followed workshop reads what it has not seen. */
  resync(): void {
    for (const workshop of this.delivered.keys()) if (!this.catching.has(workshop)) this.catchUp(workshop);
  }

  private catchUp(workshop: string): void {
    this.catching.add(workshop);
    void this.queued(workshop, async () => {
      this.catching.delete(workshop);
      await this.catchUpNow(workshop);
    }).catch(() => {
      // The database is out of reach: the next signal or resync tries again.
    });
  }

  /** Hands over the stored events after the last handed over (up to `upTo`); inside the workshop's queue. */
  private async catchUpNow(workshop: string, upTo = Infinity): Promise<void> {
    const done = this.delivered.get(workshop);
    if (done === undefined) return;
    const events = (await this.store.eventsAfter(workshop, done)).filter((e) => e.seq <= upTo);
    if (events.length === 0) return;
    if (events[0]!.seq !== done + 1) {
      // Pruned before this replica read them: each follower starts again from a fresh state.
      for (const f of this.followers.get(workshop) ?? []) f.onLost?.();
    }
    for (const e of events) this.hand(workshop, e, true);
  }

  private hand(workshop: string, e: StoredEvent, remote: boolean): void {
    this.delivered.set(workshop, e.seq);
    for (const f of this.followers.get(workshop) ?? []) f.onEvent(e, remote);
  }

  private queued<T>(workshop: string, run: () => Promise<T>): Promise<T> {
    const next = (this.queues.get(workshop) ?? Promise.resolve()).then(run);
    const settled = next.catch(() => undefined);
    this.queues.set(workshop, settled);
    void settled.then(() => { if (this.queues.get(workshop) === settled) this.queues.delete(workshop); });
    return next;
  }
}
