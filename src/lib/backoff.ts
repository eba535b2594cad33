/**
 * One backoff policy for everything that reconnects or retries (stream, backends, outbox):
 * exponential growth by `factor`, capped at `maxMs`, with full jitter in [delay/2, delay].
 */
export interface BackoffOptions {
  /** The first delay (default 500 ms). */
  initialMs?: number;
  /** The cap (default 30 s). */
  maxMs?: number;
  /** Growth per attempt (default 1.75, Errbot's). */
  factor?: number;
  /** Injected for deterministic tests. */
  random?: () => number;
}

/** The delays of one retry sequence; `reset()` after a success starts the sequence over. */
export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly random: () => number;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? 500;
    this.maxMs = opts.maxMs ?? 30_000;
    this.factor = opts.factor ?? 1.75;
    this.random = opts.random ?? Math.random;
  }

  /** The delay before the next attempt; each call grows the next one. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * this.factor ** this.attempt);
    this.attempt++;
    return Math.round(base / 2 + (this.random() * base) / 2);
  }

  /** Call after a success so the next failure starts small again. */
  reset(): void {
    this.attempt = 0;
  }

  /** Delays handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }
}

/**
 * Resolves after `ms`, or at once when `signal` aborts (never rejects). The abort listener is
 * removed when the time is up, so a long-lived signal shared by many sleeps (a reconnect
 * loop's) does not collect one listener per sleep.
 */
export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
