import type { Clock } from '../clock.js';

/**
 * A token bucket per key (form and client address): `capacity` requests at once, then
 * one more every `refillSeconds`. Time comes from the injected clock. In memory, per
 * server process: a public form is a nuisance target, not a security boundary, and a
 * restart only forgives the clients that were limited.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly clock: Clock,
    readonly capacity: number,
    readonly refillSeconds: number,
    private readonly maxKeys = 10_000,
  ) {}

  /** Takes a token for key; false when its bucket is empty. */
  take(key: string): boolean {
    const now = this.clock.now().getTime();
    const bucket = this.buckets.get(key) ?? { tokens: this.capacity, at: now };
    const refilled = Math.min(this.capacity, bucket.tokens + (now - bucket.at) / (this.refillSeconds * 1000));
    if (refilled < 1) {
      this.buckets.set(key, { tokens: refilled, at: now });
      return false;
    }
    this.buckets.set(key, { tokens: refilled - 1, at: now });
    if (this.buckets.size > this.maxKeys) this.forgetFull(now);
    return true;
  }

  /** Drops buckets that have refilled: they hold nothing a fresh one would not. */
  private forgetFull(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.at) / (this.refillSeconds * 1000) >= this.capacity) this.buckets.delete(key);
    }
  }
}
