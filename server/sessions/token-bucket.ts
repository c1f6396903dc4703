// A token bucket: `rate` tokens a second, holding at most `burst`. take(n) spends n if there are.
// Used for a terminal's input and contended output, and (keyed) for per-address start limits.
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(private readonly rate: number, private readonly burst: number, private readonly now: () => number = Date.now) {
    this.tokens = burst;
    this.at = now();
  }

  take(n: number): boolean {
    this.refill();
    if (n > this.tokens) return false;
    this.tokens -= n;
    return true;
  }

  /**
   * Spends n whether or not there are that many, going into debt: for what has already happened
   * (output already read). Returns milliseconds until the balance is back to zero (0: no debt).
   */
  spend(n: number): number {
    this.refill();
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.rate) * 1000;
  }

  /** Milliseconds until take(n) could succeed (0: now). */
  waitMs(n: number): number {
    this.refill();
    return n <= this.tokens ? 0 : ((n - this.tokens) / this.rate) * 1000;
  }

  /** A full bucket is the same as a new one: keyed sets forget them. */
  get full(): boolean {
    this.refill();
    return this.tokens >= this.burst;
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
    this.at = now;
  }
}

/**
 * One bucket per key (a client address, say), made on first use. Full buckets are forgotten once
 * more than `maxKeys` are held, so a stream of new keys cannot grow it without bound.
 */
export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly rate: number, private readonly burst: number,
    private readonly maxKeys = 10_000, private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token for `key`: 0 when there was one, else milliseconds until there is. */
  take(key: string): number {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.rate, this.burst, this.now);
      this.buckets.set(key, bucket);
      if (this.buckets.size > this.maxKeys) for (const [k, b] of this.buckets) if (b.full) this.buckets.delete(k);
    }
    return bucket.take(1) ? 0 : bucket.waitMs(1);
  }
}
