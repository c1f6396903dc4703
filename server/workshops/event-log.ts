// A workshop's dashboard events: each is stored with the next sequence number, then handed to the
// dashboards listening now. Storing first is what lets a dashboard that lost its connection ask
// for "everything after N" and get exactly the events it missed.
import type { WorkshopEvent } from '../../protocol/workshops.js';
import type { StoredEvent, WorkshopStore } from './workshop-store.js';

export class EventLog {
  private readonly listeners = new Map<string, Set<(e: StoredEvent) => void>>();

  constructor(private readonly store: WorkshopStore, private readonly keep: number) {}

  publish(workshop: string, event: WorkshopEvent): StoredEvent {
    const stored = this.store.appendEvent(workshop, event, this.keep);
    for (const listener of this.listeners.get(workshop) ?? []) listener(stored);
    return stored;
  }

  /**
   * Events after `afterSeq`, then live ones, with no gap: both happen in one synchronous turn, so
   * nothing can be published between the read and the subscription. `missed` is undefined when the
   * events after `afterSeq` are no longer kept (or `afterSeq` is unknown): the caller sends a fresh
   * state instead, stamped with `lastSeq`.
   */
  follow(workshop: string, afterSeq: number | undefined, listener: (e: StoredEvent) => void): { missed?: StoredEvent[]; lastSeq: number; stop: () => void } {
    const lastSeq = this.store.lastSeq(workshop);
    const first = this.store.firstSeq(workshop);
    const resumable = afterSeq !== undefined && afterSeq <= lastSeq && (afterSeq >= first - 1 || lastSeq === 0);
    const missed = resumable ? this.store.eventsAfter(workshop, afterSeq) : undefined;
    const set = this.listeners.get(workshop) ?? new Set();
    set.add(listener);
    this.listeners.set(workshop, set);
    return {
      missed, lastSeq,
      stop: () => {
        set.delete(listener);
        if (set.size === 0) this.listeners.delete(workshop);
      },
    };
  }

  /** Dashboards connected to this workshop now. */
  listening(workshop: string): number { return this.listeners.get(workshop)?.size ?? 0; }
}
