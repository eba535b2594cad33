/**
 * Send rates and the token bucket that honours them: the one definition of a rate, used by the
 * chat backends to publish their service's limits (`ChatBackend.sendRate`) and by the outbox
 * to pace to them before any 429 happens.
 */

/** A token-bucket rate: `burst` sends at once, then `perSecond` on average. */
export interface Rate {
  perSecond: number;
  burst: number;
}

/** `rate` multiplied by `factor` (both its average and its burst); undefined stays undefined. */
export function scaleRate(rate: Rate | undefined, factor: number): Rate | undefined {
  return rate && { perSecond: rate.perSecond * factor, burst: rate.burst * factor };
}

/**
 * A token bucket: `burst` sends at once (at least one), then `perSecond` on average; an empty
 * bucket makes the caller wait (`wait`), never drops. Time is passed in (milliseconds), so the
 * caller's clock (injected in tests) rules.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly burst: number;

  constructor(
    private readonly rate: Rate,
    now: number,
  ) {
    this.burst = Math.max(1, rate.burst);
    this.tokens = this.burst;
    this.last = now;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate.perSecond) / 1000);
      this.last = now;
    }
  }

  /** Milliseconds until one token is available (0: now; 1000 for a rate of zero, to look again). */
  wait(now: number): number {
    this.refill(now);
    if (this.tokens >= 1) return 0;
    if (this.rate.perSecond <= 0) return 1000;
    return Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.rate.perSecond));
  }

  /** Spends one token; call only after `wait` returned 0. */
  take(): void {
    this.tokens -= 1;
  }

  /** True once the bucket refilled completely (an idle user of it may then be forgotten). */
  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }
}
