/** Rate limits shared by the login API and the webhook, keyed by client address (see proxies.ts). */

/**
 * Counts events per key in a sliding window. Bounded: past `maxKeys` keys the oldest are
 * forgotten, so a flood of addresses costs memory only up to the bound.
 */
export class SlidingWindow {
  private readonly hits = new Map<string, number[]>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly maxKeys = 10_000,
  ) {}

  /** Records an event for `key` unless it is over the limit; then returns the seconds to wait. */
  take(key: string, now: number): { ok: true } | { ok: false; retryAfter: number } {
    const limited = this.blocked(key, now);
    if (limited !== undefined) return { ok: false, retryAfter: limited };
    const recent = this.hits.get(key) ?? [];
    recent.push(now);
    this.hits.delete(key); // re-inserted last: the Map's order is then least recently used first
    this.hits.set(key, recent);
    if (this.hits.size > this.maxKeys) this.hits.delete(this.hits.keys().next().value!);
    return { ok: true };
  }

  /** The seconds to wait when `key` is at its limit, else undefined; records nothing. */
  blocked(key: string, now: number): number | undefined {
    const known = this.hits.get(key);
    if (!known) return undefined;
    const recent = known.filter((t) => t > now - this.windowMs);
    this.hits.set(key, recent);
    if (recent.length < this.max) return undefined;
    return Math.max(1, Math.ceil((recent[0]! + this.windowMs - now) / 1000));
  }
}
