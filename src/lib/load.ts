/**
 * The runtime adapted to the load, from the process's CPU time read every `tickMs`:
 *
 * - The JIT once there is work. The compiled binary starts with JavaScriptCore's tier-up
 *   thresholds raised (scripts/build.ts, `jitPolicy`): a chat bot that answers a command now and
 *   then gains nothing from compiled code (a command is a fraction of a millisecond either way),
 *   but compiling it pulls the JIT compilers' own code into memory (~3 MB). Once the busy ticks
 *   add up to `jitAfterMs` of CPU (a burst of results, a busy channel), the normal policy
 *   (`Bun.unsafe.setJITPolicy(1)`) for the rest of the process's life. The cost: the first
 *   ~0.1-0.2 s of the first burst run before the JIT is back.
 * - One collection after a spell of work (the start-up counts as one), once the process has gone
 *   quiet. JavaScriptCore collects when allocation asks for it; a process that stops working
 *   keeps the garbage (and the compiled code) of its last busy spell — a 5,000-message burst
 *   leaves ~3 MB of dead objects and ~5 MB of resident memory — until it gets busy again, which
 *   for a chat bot may be hours. So: when the busy ticks since the last collection add up to
 *   `workMs` and the process has used almost none for `quietForMs` (the burst drained, the user
 *   stopped typing), `shrink` below. It never runs while work goes on, so it adds no pause to a
 *   command or a delivery in flight, and costs at most one collection (a few ms on st2bot's
 *   heap) per `workMs` of work.
 * - Once the JIT is back, its compiler threads at the lowest CPU priority (`JitThreads`), so a
 *   compile gives way to the command a user waits for.
 */
import { edenGC } from "bun:jsc";
import { readdirSync, readFileSync } from "node:fs";
import { setPriority } from "node:os";

/** What `adaptToLoad` reads and does; each replaceable for tests. */
export interface LoadOptions {
  /** How often to look, ms. Default 100: a burst gets the JIT within ~0.1-0.2 s. */
  tickMs?: number;
  /** CPU time per tick under which the process counts as quiet, ms. Default 1. */
  quietMs?: number;
  /** How long the process must have been quiet before a collection, ms. Default 500. */
  quietForMs?: number;
  /** CPU time of busy ticks after which the JIT gets its normal policy, ms. Default 50. */
  jitAfterMs?: number;
  /** CPU time of busy ticks since the last collection that makes one worth it, ms. Default 100. */
  workMs?: number;
  /**
   * The caller has just started up (a busy spell of its own, whatever its CPU time): collect
   * once at the first quiet spell, which drops the start-up's garbage and run-once code.
   */
  afterStart?: boolean;
  /** The process's CPU time so far, ms (default: user + system from `process.cpuUsage()`). */
  cpuMs?: () => number;
  /** The collection (default: `shrink`, see below). */
  collect?: () => void;
  /** Gives the JIT its normal policy (default `Bun.unsafe.setJITPolicy(1)`). */
  normalJit?: () => void;
  /**
   * Called after every busy tick once the JIT has its normal policy, while code runs and gets
   * hot (default: `lowerJitThreads` below, which puts new JIT compiler threads at the lowest
   * priority). Not before: held back, the JIT compiles little, and an idle bot is left alone.
   */
  onBusy?: () => void;
}

/** Starts watching (an unref'd timer: it never keeps the process alive); `stop()` ends it. */
export function adaptToLoad(opts: LoadOptions = {}): { stop(): void } {
  const { tickMs = 100, quietMs = 1, quietForMs = 500, jitAfterMs = 50, workMs = 100 } = opts;
  const cpuMs = opts.cpuMs ?? (() => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  });
  const collect = opts.collect ?? shrink;
  const normalJit = opts.normalJit ?? (() => Bun.unsafe.setJITPolicy(1));
  const onBusy = opts.onBusy ?? lowerJitThreads;
  let last = cpuMs();
  /** CPU time of the busy ticks since the last collection (quiet ticks' crumbs do not add up). */
  let work = opts.afterStart ? workMs : 0;
  let quietFor = 0;
  /** CPU time of the busy ticks so far, until the JIT got its normal policy (then undefined). */
  let towardsJit: number | undefined = 0;
  const timer = setInterval(() => {
    const now = cpuMs();
    const tick = now - last;
    last = now;
    if (tick >= quietMs) {
      work += tick;
      quietFor = 0;
      if (towardsJit !== undefined && (towardsJit += tick) >= jitAfterMs) {
        normalJit();
        towardsJit = undefined;
      }
      if (towardsJit === undefined) onBusy();
    } else if ((quietFor += tickMs) >= quietForMs && work >= workMs && work > 0) {
      collect();
      // The collection's own CPU time is not work that calls for another.
      last = cpuMs();
      work = 0;
    }
  }, tickMs);
  timer.unref?.();
  return { stop: () => clearInterval(timer) };
}

/**
 * A full collection that also drops compiled code nothing runs now (`Bun.shrink()`: JSC's
 * shrink-footprint-when-idle, which deletes unused code blocks and JIT code, collects and hands
 * free pages back): the start-up's run-once code, a burst's JIT code; what runs again is
 * re-linked from its bytecode. A plain `Bun.gc(true)` where Bun no longer has it.
 */
function shrink(): void {
  const bun = Bun as unknown as { shrink?: () => void };
  if (typeof bun.shrink === "function") bun.shrink();
  else Bun.gc(true);
}

/** What `JitThreads` reads and does; each replaceable for tests. */
export interface JitThreadsOptions {
  /** This process's thread ids (default: /proc/self/task; none where there is no /proc). */
  threads?: () => number[];
  /** A thread's name (default: /proc/self/task/<tid>/comm; "" once it has ended). */
  name?: (tid: number) => string;
  /** Lowers one thread's priority (default: `os.setPriority(tid, 19)`, the lowest nice). */
  lower?: (tid: number) => void;
}

/**
 * JavaScriptCore's JIT compilers at the lowest CPU priority, so that a compile gives way to the
 * work a user waits for.
 *
 * The DFG and FTL compile on worker threads of their own ("JITWorker"; `useConcurrentJIT` is on
 * in a compiled binary), 0.5-2 ms for a DFG compile, 3-8 ms for an FTL one, some twenty of them
 * in the first few hundred commands after the JIT gets its normal policy (scripts/bench/
 * jit-overlap.ts). They do not block the main thread, but on a machine with few cores a compile
 * competes for a core with the command in flight, the chat service and StackStorm's API: a
 * command that a compile overlapped took 1.0 ms on average from line to request, against 0.28 ms
 * for all (0.54 ms with this lowering; 10 runs of 400 commands each, interleaved). At nice 19 a compiler thread weighs 15 against the
 * main thread's 1,024 when they share a core, and gives the core up as soon as a thread of
 * normal priority wakes up on it; on an idle core it runs at full speed, so the code still gets
 * compiled. (`SCHED_IDLE`, through libc with bun:ffi, was measured too: about as good for the
 * commands, within the noise, but a burst's own compiles then waited so long on a busy machine
 * that the burst was ~20 % slower in three runs of three. Either is one way for an unprivileged
 * process: a lowered thread cannot be raised again.)
 *
 * JavaScriptCore starts these threads when there is something to compile and ends them after a
 * few seconds without, so `lowerNew` looks again after every busy tick and lowers the new ones
 * (it reads the name of a thread once). Linux only (a thread's nice is its own there);
 * elsewhere it does nothing.
 */
export class JitThreads {
  private readonly threads: () => number[];
  private readonly name: (tid: number) => string;
  private readonly lower: (tid: number) => void;
  /** Thread ids already looked at (lowered or not a JIT thread), pruned as threads end. */
  private seen = new Set<number>();

  constructor(opts: JitThreadsOptions = {}) {
    this.threads = opts.threads ?? procThreads;
    this.name = opts.name ?? procThreadName;
    this.lower = opts.lower ?? ((tid) => setPriority(tid, 19));
  }

  /** Lowers the JIT threads started since the last call; returns how many. */
  lowerNew(): number {
    const now = new Set<number>();
    let lowered = 0;
    for (const tid of this.threads()) {
      now.add(tid);
      if (this.seen.has(tid) || this.name(tid) !== "JITWorker") continue;
      try {
        this.lower(tid);
        lowered++;
      } catch {
        // The thread ended meanwhile, or the platform says no: it keeps its priority.
      }
    }
    this.seen = now;
    return lowered;
  }
}

const jitThreads = new JitThreads();

/** `JitThreads.lowerNew` of the process's one `JitThreads`. */
export function lowerJitThreads(): void {
  jitThreads.lowerNew();
}

let noProc = false;

function procThreads(): number[] {
  if (noProc) return [];
  try {
    return readdirSync("/proc/self/task").map(Number);
  } catch {
    noProc = true;
    return [];
  }
}

function procThreadName(tid: number): string {
  try {
    return readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** What a `CommandGarbage` does and reads; each replaceable for tests. */
export interface CommandGarbageOptions {
  /** Commands finished since the last collection that make one worth it. Default 24. */
  every?: number;
  /** The young collection (default: `edenGC` of bun:jsc, synchronous). */
  collect?: () => void;
  /** Runs `fn` once the current turn of the event loop is over (default `setImmediate`). */
  later?: (fn: () => void) => void;
  /**
   * A token that tells whether JavaScriptCore has collected since it was made (default: a
   * `WeakRef` to a fresh object, empty after the next collection of any kind).
   */
  sentinel?: () => { collected(): boolean };
}

/**
 * Young collections at the moments a user does not feel: between commands.
 *
 * A command allocates ~1,000 short-lived cells (~60 KB: closures, promises, strings, parsed
 * answers; `bun scripts/bench/gc-window.ts --types`), spread over the router, the matcher, the
 * client, the stream and the outbox. JavaScriptCore collects them when its timers, Bun's GC
 * controller or its allocation budget say so (every ~100 commands here), wherever the process
 * is: a 0.7–2 ms eden pause that lands in the path of the next command is part of the line →
 * request p99 of scripts/bench/outside.ts. Much of an eden pause is fixed (~0.7 ms with nothing
 * young), so collecting more often does not make each pause much shorter; collecting where
 * nobody waits does. So: after every `every` commands, once no command is in flight (the ack was
 * written, the user waits for StackStorm), one eden collection in the next turn of the event
 * loop — unless JavaScriptCore has collected on its own since the last one (then the count
 * starts again). It costs one ~0.7–1 ms pause per `every` commands, off the command path: about
 * four times as many collections as JavaScriptCore's own, ~40 µs of CPU per command.
 */
export class CommandGarbage {
  private readonly every: number;
  private readonly collect: () => void;
  private readonly later: (fn: () => void) => void;
  private readonly sentinel: () => { collected(): boolean };
  private inFlight = 0;
  private since = 0;
  private scheduled = false;
  private token: { collected(): boolean };

  constructor(opts: CommandGarbageOptions = {}) {
    this.every = opts.every ?? 24;
    this.collect = opts.collect ?? edenCollection;
    this.later = opts.later ?? ((fn) => void setImmediate(fn));
    this.sentinel = opts.sentinel ?? weakSentinel;
    this.token = this.sentinel();
  }

  /** A command started: no collection until every started command has finished. */
  begin(): void {
    this.inFlight++;
  }

  /** A command finished (answered or failed): counts it, and collects if due and quiet. */
  end(): void {
    if (this.inFlight > 0) this.inFlight--;
    if (this.token.collected()) {
      // JavaScriptCore collected during the last commands: what is young is only what came since.
      this.since = 0;
      this.token = this.sentinel();
    }
    this.since++;
    if (this.inFlight === 0 && this.since >= this.every && !this.scheduled) {
      this.scheduled = true;
      this.later(() => this.quiet());
    }
  }

  private quiet(): void {
    this.scheduled = false;
    // Another command came in meanwhile: its end() tries again.
    if (this.inFlight > 0) return;
    this.since = 0;
    this.collect();
    this.token = this.sentinel();
  }
}

/** The process's one `CommandGarbage`: the router tells it when commands begin and end. */
export const commandGarbage = new CommandGarbage();

function edenCollection(): void {
  edenGC();
}

function weakSentinel(): { collected(): boolean } {
  const ref = new WeakRef({});
  return { collected: () => ref.deref() === undefined };
}
