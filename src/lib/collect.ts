/**
 * One full garbage collection after a spell of work, once the process has gone quiet.
 *
 * JavaScriptCore collects when allocation asks for it; a process that stops working keeps the
 * garbage of its last busy spell (a 5,000-message burst leaves ~3 MB of dead objects and ~5 MB
 * of resident memory) until it gets busy again, which for a chat bot may be hours. So: count
 * the CPU time of the busy ticks since the last collection; when that is at least `workMs` and
 * the last `tickMs` used almost none (the burst drained, the user stopped typing), collect once
 * (`Bun.gc(true)`, which also lets the allocator return the freed pages). It never runs while
 * work goes on, so it adds no pause to a command or a delivery in flight, and it costs at most
 * one collection (a few ms on st2bot's heap) per `workMs` of work.
 */

/** What `collectWhenQuiet` reads and does; each replaceable for tests. */
export interface QuietCollectorOptions {
  /** How often to look, ms. Default 500. */
  tickMs?: number;
  /** CPU time of work since the last collection that makes one worth it, ms. Default 100. */
  workMs?: number;
  /** CPU time per tick under which the process counts as quiet, ms. Default 2. */
  quietMs?: number;
  /** The process's CPU time so far, ms (default: user + system from `process.cpuUsage()`). */
  cpuMs?: () => number;
  /** The collection (default: a synchronous full GC, `Bun.gc(true)`). */
  collect?: () => void;
}

/** Starts watching (an unref'd timer: it never keeps the process alive); `stop()` ends it. */
export function collectWhenQuiet(opts: QuietCollectorOptions = {}): { stop(): void } {
  const { tickMs = 500, workMs = 100, quietMs = 2 } = opts;
  const cpuMs = opts.cpuMs ?? (() => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  });
  const collect = opts.collect ?? (() => Bun.gc(true));
  let last = cpuMs();
  /** CPU time of the busy ticks since the last collection (quiet ticks' crumbs do not add up). */
  let work = 0;
  const timer = setInterval(() => {
    const now = cpuMs();
    const tick = now - last;
    last = now;
    if (tick >= quietMs) work += tick;
    else if (work >= workMs && work > 0) {
      collect();
      // The collection's own CPU time is not work that calls for another.
      last = cpuMs();
      work = 0;
    }
  }, tickMs);
  timer.unref?.();
  return { stop: () => clearInterval(timer) };
}
