// A workshop's dashboard events: each is stored with the next sequence number, then handed to the
// dashboards listening now. Storing first is what lets a dashboard that lost its connection ask
// for "everything after N" and get exactly the events it missed.
import type { WorkshopEvent } from '../../protocol/workshops.js';
import type { StoredEvent, WorkshopStore } from './workshop-store.js';

export interface FollowStart {
  /** Events after `afterSeq`, or undefined when they are no longer kept (or `afterSeq` is unknown). */
  missed?: StoredEvent[];
  lastSeq: number;
}

export class EventLog {
  private readonly listeners = new Map<string, Set<(e: StoredEvent) => void>>();
  /**
   * Per workshop, the last publish or follow queued: they run one at a time, in order, so
   * listeners get events in sequence order and a follow's read and subscription have no gap.
   */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly store: WorkshopStore, private readonly keep: number) {}

  publish(workshop: string, event: WorkshopEvent): Promise<StoredEvent> {
    return this.queued(workshop, async () => {
      const stored = await this.store.appendEvent(workshop, event, this.keep);
      for (const listener of this.listeners.get(workshop) ?? []) listener(stored);
      return stored;
    });
  }

  /**
   * Calls `begin` with the events after `afterSeq` (or, when they are no longer kept, just the last
   * sequence number: the caller sends a fresh state instead, stamped with it), then `listener` with
   * every later event, with no gap and no repeat. Resolves to the function that stops following.
   */
  follow(workshop: string, afterSeq: number | undefined, listener: (e: StoredEvent) => void, begin: (start: FollowStart) => void | Promise<void>): Promise<() => void> {
    return this.queued(workshop, async () => {
      const lastSeq = await this.store.lastSeq(workshop);
      const first = await this.store.firstSeq(workshop);
      const resumable = afterSeq !== undefined && afterSeq <= lastSeq && (afterSeq >= first - 1 || lastSeq === 0);
      const missed = resumable ? await this.store.eventsAfter(workshop, afterSeq) : undefined;
      await begin({ missed, lastSeq });
      const set = this.listeners.get(workshop) ?? new Set();
      set.add(listener);
      this.listeners.set(workshop, set);
      return () => {
        set.delete(listener);
        if (set.size === 0 && this.listeners.get(workshop) === set) this.listeners.delete(workshop);
      };
    });
  }

  /** Dashboards connected to this workshop now. */
  listening(workshop: string): number { return this.listeners.get(workshop)?.size ?? 0; }

  private queued<T>(workshop: string, run: () => Promise<T>): Promise<T> {
    const next = (this.queues.get(workshop) ?? Promise.resolve()).then(run);
    const settled = next.catch(() => undefined);
    this.queues.set(workshop, settled);
    void settled.then(() => { if (this.queues.get(workshop) === settled) this.queues.delete(workshop); });
    return next;
  }
}
