export interface RateLimit {
  /** Sustained requests per minute; 0 turns limiting off. */
  perMinute: number;
  /** Requests allowed at once before the sustained rate applies. */
  burst: number;
}

export type Take = { ok: true } | { ok: false; retryAfterSeconds: number };

const SWEEP_EVERY = 1000;

/**
 * A token bucket per client key, in memory. Full buckets are forgotten now and then, so a stream of
 * one-off clients does not grow the map without bound.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private takes = 0;

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
  ) {}

  take(key: string): Take {
    if (this.limit.perMinute === 0) return { ok: true };
    const perMs = this.limit.perMinute / 60_000;
    const t = this.now();
    if (++this.takes % SWEEP_EVERY === 0) this.sweep(t, perMs);
    const b = this.buckets.get(key) ?? { tokens: this.limit.burst, at: t };
    b.tokens = Math.min(this.limit.burst, b.tokens + (t - b.at) * perMs);
    b.at = t;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000)) };
  }

  private sweep(t: number, perMs: number): void {
    for (const [k, b] of this.buckets) if (b.tokens + (t - b.at) * perMs >= this.limit.burst) this.buckets.delete(k);
  }
}
