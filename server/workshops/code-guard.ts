// Join-code guessing is rate limited per client address. Only misses (codes that name no
// workshop) are counted: a room of 30 behind one NAT address opening the right code spends nothing,
// while a script walking the 887 million codes is held to a few tries a minute.

/** Addresses remembered at most; past this the oldest are forgotten. */
const MAX_ADDRESSES = 10_000;

interface Bucket { tokens: number; at: number }

export class CodeGuard {
  private readonly buckets = new Map<string, Bucket>();

  /** `perMinute` misses a minute, up to `perMinute` at once. */
  constructor(private readonly perMinute: number, private readonly now: () => number = Date.now) {}

  /** Undefined when this address may look a code up now, else seconds until it may. */
  blocked(ip: string): number | undefined {
    const b = this.refill(ip);
    return b.tokens >= 1 ? undefined : Math.ceil((1 - b.tokens) * 60 / this.perMinute);
  }

  /** A lookup from this address named no workshop. */
  miss(ip: string): void {
    const b = this.refill(ip);
    b.tokens = Math.max(0, b.tokens - 1);
  }

  private refill(ip: string): Bucket {
    const now = this.now();
    let b = this.buckets.get(ip);
    if (!b) {
      if (this.buckets.size >= MAX_ADDRESSES) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: this.perMinute, at: now };
      this.buckets.set(ip, b);
    }
    b.tokens = Math.min(this.perMinute, b.tokens + ((now - b.at) / 60_000) * this.perMinute);
    b.at = now;
    return b;
  }
}
