// Per-client limits on starting labs, so one learner (or one script) cannot take every box:
// live sessions per learner cookie, live sessions per IP (a classroom shares one NAT address, so
// this one is generous), and a token bucket of session starts per IP. A session counts from the
// moment it is admitted (before its box exists, so parallel requests cannot slip past) until it ends.
import type { Config } from '../config.js';
import type { Session } from '../sessions/session.js';
import { KeyedBuckets } from '../sessions/token-bucket.js';

export interface Client { learner: string; ip: string }

/** A reserved place: bind it to the session it became, or release it if creation failed. */
export interface Slot { bind(session: Session): void; release(): void }

export type Admission =
  | { ok: true; slot: Slot }
  | { ok: false; code: 'too-many-sessions' | 'too-many-sessions-ip' | 'rate-limited'; message: string; retryAfterS?: number };

type Limits = Pick<Config, 'sessionsPerLearner' | 'sessionsPerIp' | 'sessionStartsPerMinute' | 'sessionStartBurst'>;

export class ClientLimits {
  private readonly byLearner = new Map<string, number>();
  private readonly byIp = new Map<string, number>();
  private readonly starts: KeyedBuckets;

  constructor(private readonly limits: Limits, now: () => number = Date.now) {
    this.starts = new KeyedBuckets(limits.sessionStartsPerMinute / 60, limits.sessionStartBurst, 10_000, now);
  }

  live(client: Client): { learner: number; ip: number } {
    return { learner: this.byLearner.get(client.learner) ?? 0, ip: this.byIp.get(client.ip) ?? 0 };
  }

  admit(client: Client): Admission {
    const { sessionsPerLearner, sessionsPerIp } = this.limits;
    const live = this.live(client);
    if (live.learner >= sessionsPerLearner) {
      return {
        ok: false, code: 'too-many-sessions',
        message: `you already have ${live.learner} lab${live.learner === 1 ? '' : 's'} running: end one (or wait for it to time out) to start another`,
      };
    }
    if (live.ip >= sessionsPerIp) {
      return {
        ok: false, code: 'too-many-sessions-ip',
        message: `${live.ip} labs are already running from your network (${client.ip}), the most one address may run: end one to start another (operators: TERMLAB_SESSIONS_PER_IP)`,
      };
    }
    const wait = this.starts.take(client.ip);
    if (wait > 0) {
      const s = Math.ceil(wait / 1000);
      return { ok: false, code: 'rate-limited', message: `labs are being started too fast from your network: wait ${s} s and try again`, retryAfterS: s };
    }
    this.add(client, 1);
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      this.add(client, -1);
    };
    return {
      ok: true,
      slot: {
        bind: (session) => {
          if (session.endReason) return release();
          session.onEnd(release);
        },
        release,
      },
    };
  }

  private add(client: Client, n: 1 | -1): void {
    bump(this.byLearner, client.learner, n);
    bump(this.byIp, client.ip, n);
  }
}

function bump(map: Map<string, number>, key: string, n: number): void {
  const value = (map.get(key) ?? 0) + n;
  if (value <= 0) map.delete(key);
  else map.set(key, value);
}
