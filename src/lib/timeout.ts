/**
 * A promise fulfilled from the start, returned by work that was already done when it returned
 * (a send the output took at once): `withTimeout` hands it back without a timer, and a caller
 * that compares against it may carry on in the same turn instead of waiting for a microtask.
 */
export const DONE: Promise<void> = Promise.resolve();

/**
 * Rejects with `timeoutError()` when `work` has not settled within `ms`; the timer is cleared
 * either way, so nothing lingers after the work settles. `DONE` comes back as it is (no timer).
 */
export function withTimeout<T>(work: Promise<T>, ms: number, timeoutError: () => Error): Promise<T> {
  if (work === (DONE as Promise<unknown>)) return work;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError()), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
