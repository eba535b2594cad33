/**
 * A per-key sliding-window limit: at most `max` events per `windowMs` for each key (a chat
 * user). Memory is bounded: keys whose events all left the window are dropped as others arrive,
 * and past `maxKeys` the oldest key goes (its user merely gets a fresh allowance).
 */
export interface WindowLimitOptions {
  max: number;
  windowMs: number;
  maxKeys?: number;
  now?: () => number;
}

/** The verdict: allowed (and counted), or how long until the next event would be. */
export type LimitVerdict = { ok: true } | { ok: false; retryAfterMs: number; count: number };

/** See the file comment. */
export class WindowLimit {
  private readonly events = new Map<string, number[]>();
  private readonly now: () => number;

  constructor(private readonly opts: WindowLimitOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Counts one event for `key` when allowed; a refused attempt is not counted. */
  take(key: string): LimitVerdict {
    const now = this.now();
    const since = now - this.opts.windowMs;
    const recent = (this.events.get(key) ?? []).filter((t) => t > since);
    if (recent.length >= this.opts.max) {
      this.events.set(key, recent);
      return { ok: false, retryAfterMs: recent[0]! + this.opts.windowMs - now, count: recent.length };
    }
    recent.push(now);
    this.events.delete(key);
    this.events.set(key, recent);
    this.prune(since);
    return { ok: true };
  }

  private prune(since: number): void {
    const cap = this.opts.maxKeys ?? 10_000;
    for (const [key, times] of this.events) {
      if (this.events.size <= cap && times.at(-1)! > since) break;
      this.events.delete(key);
    }
  }
}
