/**
 * Polling for tests: the one `waitFor` every test file uses. Loads nothing of the app, so chat
 * and st2 unit tests can import it without pulling src/app.ts in.
 */

/**
 * Polls `fn` every `everyMs` until it returns something other than `undefined`, `null` or
 * `false`, and resolves with that value. After `ms` it rejects with an error naming `what`
 * (and the text of `detail()`, when given: what the test saw, to debug the failure).
 */
export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | null | false,
  ms = 10_000,
  opts: { everyMs?: number; detail?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = fn();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) {
      const seen = opts.detail ? `; ${opts.detail()}` : "";
      throw new Error(`timed out after ${ms} ms waiting for ${what}${seen}`);
    }
    await Bun.sleep(opts.everyMs ?? 10);
  }
}

/**
 * Calls `fn` until it resolves (for steps that fail while a client reconnects), every 100 ms;
 * after `ms` it rejects naming `what` and the last error.
 */
export async function eventually<T>(what: string, fn: () => Promise<T>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(err)}`);
      await Bun.sleep(100);
    }
  }
}
