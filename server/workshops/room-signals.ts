// Tells the other replicas sharing the database that a workshop's rows changed, so their dashboards
// and seats follow: "workshop W has events up to N", "workshop W's row changed" (created, paced,
// extended, ended), "seat S of W was changed by a replica that does not hold its session" (a hand
// lowered, a reset), and "send W's rows again" (a replica that just started knows no live facts of
// the others' seats). A signal names rows, it carries no change: the receiver reads the rows, which
// are the authority. Replicas of other instances on the same database use another channel.
//
// What a learner can make a replica send is bounded: signals wait in a set keyed by what they name
// (the newest event number wins), and the set is sent at most every FLUSH_MS, packed into few
// payloads; so a learner raising and lowering a hand in a loop costs every replica a read per
// FLUSH_MS at most, not one per click. Received payloads that do not parse are dropped.
import type { Logger } from '../log.js';
import { MAX_PAYLOAD, instanceChannel, type Database } from '../store/database.js';

export type RoomSignal =
  | { kind: 'events'; workshop: string; seq: number }
  | { kind: 'workshop'; workshop: string }
  | { kind: 'seat'; workshop: string; seat: string }
  | { kind: 'rows'; workshop: string }
  /** The instructor asks for control of seat S's terminal (on), or hands it back: for the replica serving it. */
  | { kind: 'control'; workshop: string; seat: string; on: boolean };

export interface SignalHandlers {
  onSignal(signal: RoomSignal): void;
  /** Signals may have been lost (the LISTEN connection was made again): read everything again. */
  onResync(): void;
}

/** Signals of one workshop are sent this often at most (ms). */
const FLUSH_MS = 25;
/** Workshop ids are newWorkshopId()'s; seats are numbers; sequence numbers too. */
const ID = '[A-Za-z0-9]{1,24}';
const PATTERN = new RegExp(`^(?:e\\.(${ID})\\.(\\d{1,15})|w\\.(${ID})|s\\.(${ID})\\.(\\d{1,4})|r\\.(${ID})|c\\.(${ID})\\.(\\d{1,4})\\.([01]))$`);

function encode(s: RoomSignal): string {
  if (s.kind === 'events') return `e.${s.workshop}.${s.seq}`;
  if (s.kind === 'workshop') return `w.${s.workshop}`;
  if (s.kind === 'rows') return `r.${s.workshop}`;
  if (s.kind === 'control') return `c.${s.workshop}.${s.seat}.${s.on ? 1 : 0}`;
  return `s.${s.workshop}.${s.seat}`;
}

export function decode(item: string): RoomSignal | undefined {
  const m = PATTERN.exec(item);
  if (!m) return undefined;
  if (m[1]) return { kind: 'events', workshop: m[1], seq: Number(m[2]) };
  if (m[3]) return { kind: 'workshop', workshop: m[3] };
  if (m[6]) return { kind: 'rows', workshop: m[6] };
  if (m[7]) return { kind: 'control', workshop: m[7], seat: m[8]!, on: m[9] === '1' };
  return { kind: 'seat', workshop: m[4]!, seat: m[5]! };
}

/** The instance's channel for room signals. */
export function channelOf(instance: string): string {
  return instanceChannel('rooms', instance);
}

export class RoomSignals {
  private readonly pending = new Map<string, RoomSignal>();
  private timer: NodeJS.Timeout | undefined;
  private lastFlush = 0;
  private unlisten: (() => void) | undefined;
  private flushing: Promise<void> = Promise.resolve();
  readonly channel: string;

  constructor(private readonly db: Database, instance: string, private readonly log: Logger) {
    this.channel = channelOf(instance);
  }

  async start(handlers: SignalHandlers): Promise<void> {
    this.unlisten = await this.db.listen(this.channel, {
      onNotify: (payload) => {
        // A payload is at most MAX_PAYLOAD bytes of space-separated items; anything else is dropped.
        if (payload.length > MAX_PAYLOAD) return;
        for (const item of payload.split(' ')) {
          const signal = decode(item);
          if (signal) handlers.onSignal(signal);
        }
      },
      onResync: () => handlers.onResync(),
    });
  }

  /** Queues a signal; the queue is sent within FLUSH_MS. */
  send(signal: RoomSignal): void {
    // The newest event number, and the newest control change of a seat, win.
    const key = signal.kind === 'events' ? `e.${signal.workshop}` : signal.kind === 'control' ? `c.${signal.workshop}.${signal.seat}` : encode(signal);
    const queued = this.pending.get(key);
    if (queued?.kind === 'events' && signal.kind === 'events' && queued.seq > signal.seq) return;
    this.pending.set(key, signal);
    if (this.timer) return;
    const wait = Math.max(0, this.lastFlush + FLUSH_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.lastFlush = Date.now();
      this.flushing = this.flush();
    }, wait);
  }

  private async flush(): Promise<void> {
    const items = [...this.pending.values()].map(encode);
    this.pending.clear();
    // Packed into as few payloads as fit the bound.
    const payloads: string[] = [];
    for (const item of items) {
      const last = payloads.at(-1);
      if (last !== undefined && last.length + 1 + item.length <= MAX_PAYLOAD) payloads[payloads.length - 1] = `${last} ${item}`;
      else payloads.push(item);
    }
    for (const p of payloads) {
      await this.db.notify(this.channel, p).catch((err: Error) => this.log.warn({ err }, 'telling the other replicas about a workshop change failed'));
    }
  }

  /** Sends what is queued, then stops listening. */
  async stop(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.flushing = this.flush();
    }
    await this.flushing;
    this.unlisten?.();
    this.unlisten = undefined;
  }
}
