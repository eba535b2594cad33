import { numberOfDFGCompiles } from "bun:jsc";
import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { adaptToLoad, JitThreads } from "../../src/lib/load.ts";

const TICK = 5;
/**
 * A process whose CPU use per tick the test sets: every read of the clock is one tick's worth.
 * `ticks(n)` waits for n reads, not n × TICK ms, so a loaded machine that delays the timer does
 * not change what the test sees.
 */
function fakeProcess(opts: { afterStart?: boolean } = {}) {
  let reads = 0;
  const p = {
    cpu: 0,
    /** CPU per read from here on, once `script` (one entry per read) is used up. */
    perTick: 0,
    script: [] as number[],
    collections: 0,
    jit: 0,
    async ticks(n: number) {
      const until = reads + n;
      const deadline = Date.now() + 10_000;
      while (reads < until && Date.now() < deadline) await Bun.sleep(1);
    },
  };
  const watcher = adaptToLoad({
    ...opts,
    tickMs: TICK,
    quietMs: 2,
    quietForMs: 3 * TICK,
    workMs: 100,
    jitAfterMs: 100,
    cpuMs: () => {
      reads++;
      return (p.cpu += p.script.length > 0 ? p.script.shift()! : p.perTick);
    },
    collect: () => p.collections++,
    normalJit: () => p.jit++,
    onBusy: () => {},
  });
  stops.push(watcher.stop);
  return p;
}
const stops: (() => void)[] = [];
afterEach(() => stops.splice(0).forEach((stop) => stop()));

test("an idle process is left alone: no collection, the JIT held back", async () => {
  const p = fakeProcess();
  await p.ticks(20);
  expect(p).toMatchObject({ collections: 0, jit: 0 });
});

test("a spell of work gets the normal JIT while it goes on, and is collected once it has gone quiet, once", async () => {
  const p = fakeProcess();
  p.perTick = 30;
  await p.ticks(12);
  // Busy (30 ms of CPU per tick): the JIT after ~4 ticks, never a collection while the work goes on.
  expect(p).toMatchObject({ collections: 0, jit: 1 });
  p.perTick = 0;
  await p.ticks(6);
  expect(p.collections).toBe(1);
  await p.ticks(10);
  expect(p).toMatchObject({ collections: 1, jit: 1 });
});

test("a short lull in the work is not quiet enough for a collection", async () => {
  const p = fakeProcess();
  // Busy, one quiet tick, busy again… (quietForMs is three ticks).
  p.script = [30, 30, 30, 30, 0, 30, 0, 30, 30];
  p.perTick = 30;
  await p.ticks(9);
  expect(p.collections).toBe(0);
  p.perTick = 0;
  await p.ticks(8);
  expect(p.collections).toBe(1);
});

test("too little work is worth neither the JIT nor a collection", async () => {
  const p = fakeProcess();
  // 5 busy ticks of 10 ms: half of workMs and of jitAfterMs, then quiet.
  p.script = [10, 10, 10, 10, 10];
  await p.ticks(15);
  expect(p).toMatchObject({ collections: 0, jit: 0 });
});

test("the crumbs of an idle process (timers, heartbeats) never add up to work", async () => {
  const p = fakeProcess();
  // 1.5 ms per tick: under quietMs, though 80 ticks make more than workMs in all.
  p.perTick = 1.5;
  await p.ticks(80);
  expect(p).toMatchObject({ collections: 0, jit: 0 });
});

test("after a start-up, the first quiet spell is collected once", async () => {
  const p = fakeProcess({ afterStart: true });
  await p.ticks(12);
  expect(p).toMatchObject({ collections: 1, jit: 0 });
});

test("stop ends the watching", async () => {
  const p = fakeProcess();
  stops.pop()!();
  // Nothing reads the clock any more: a spell of work and a quiet spell, by the wall clock.
  p.script = [50, 50, 50, 50];
  await Bun.sleep(TICK * 12);
  expect(p).toMatchObject({ collections: 0, jit: 0, script: [50, 50, 50, 50] });
});

test("by default: Bun's shrink (a full collection that also drops unused code) and JIT policy 1", async () => {
  const bun = Bun as unknown as { shrink: () => void };
  const shrink = bun.shrink;
  const setJITPolicy = Bun.unsafe.setJITPolicy;
  const calls: unknown[] = [];
  bun.shrink = () => {
    calls.push(["shrink"]);
    shrink();
  };
  Bun.unsafe.setJITPolicy = (scale: number) => {
    calls.push(["jit", scale]);
    setJITPolicy(scale);
  };
  // Three busy reads of the clock (50 ms of CPU each), then quiet.
  let cpu = 0;
  let reads = 0;
  try {
    const watcher = adaptToLoad({ tickMs: 20, quietForMs: 20, workMs: 0, jitAfterMs: 0, cpuMs: () => (++reads <= 3 ? (cpu += 50) : cpu) });
    stops.push(watcher.stop);
    const deadline = Date.now() + 5_000;
    while (calls.length < 2 && Date.now() < deadline) await Bun.sleep(20);
    expect(calls).toEqual([["jit", 1], ["shrink"]]);
  } finally {
    bun.shrink = shrink;
    Bun.unsafe.setJITPolicy = setJITPolicy;
  }
});

describe("JitThreads", () => {
  /** A process whose threads the test sets; `lowered` lists what was lowered, in order. */
  function fakeThreads(threads: Record<number, string>) {
    const state = { threads, lowered: [] as number[], nameReads: 0 };
    const jit = new JitThreads({
      threads: () => Object.keys(state.threads).map(Number),
      name: (tid) => {
        state.nameReads++;
        return state.threads[tid] ?? "";
      },
      lower: (tid) => void state.lowered.push(tid),
    });
    return { state, jit };
  }

  test("lowers the JIT compiler threads and nothing else, each once", () => {
    const { state, jit } = fakeThreads({ 1: "st2bot", 2: "HTTP Client", 3: "JITWorker", 4: "HeapHelper", 5: "JITWorker" });
    expect(jit.lowerNew()).toBe(2);
    expect(state.lowered).toEqual([3, 5]);
    expect(jit.lowerNew()).toBe(0);
    expect(state.lowered).toEqual([3, 5]);
  });

  test("a JIT thread started later (JavaScriptCore ends idle ones and starts new ones) is lowered too", () => {
    const { state, jit } = fakeThreads({ 1: "st2bot", 3: "JITWorker" });
    jit.lowerNew();
    // Thread 3 ended after a quiet spell; a new compile started thread 7.
    state.threads = { 1: "st2bot", 7: "JITWorker" };
    expect(jit.lowerNew()).toBe(1);
    expect(state.lowered).toEqual([3, 7]);
  });

  test("reads each thread's name once, not on every busy tick", () => {
    const { state, jit } = fakeThreads({ 1: "st2bot", 2: "HTTP Client", 3: "JITWorker" });
    jit.lowerNew();
    jit.lowerNew();
    jit.lowerNew();
    expect(state.nameReads).toBe(3);
  });

  test("a thread that cannot be lowered (ended meanwhile) does not stop the others", () => {
    const lowered: number[] = [];
    const jit = new JitThreads({
      threads: () => [3, 5],
      name: () => "JITWorker",
      lower: (tid) => {
        if (tid === 3) throw new Error("ESRCH");
        lowered.push(tid);
      },
    });
    expect(jit.lowerNew()).toBe(1);
    expect(lowered).toEqual([5]);
  });

  test("for real (Linux): a hot function's compiler threads end up at nice 19, the main thread stays as it was", () => {
    if (process.platform !== "linux") return;
    const niceOf = (tid: string) => Number(readFileSync(`/proc/self/task/${tid}/stat`, "utf8").split(") ")[1]!.split(" ")[16]);
    const jitTids = () => readdirSync("/proc/self/task").filter((t) => readFileSync(`/proc/self/task/${t}/comm`, "utf8").trim() === "JITWorker");
    const mainNice = niceOf(String(process.pid));
    // Something for the JIT to compile, so that its worker threads exist.
    const hot = (x: number) => (x * 31) % 7;
    let sum = 0;
    for (let i = 0; i < 2_000_000 && numberOfDFGCompiles(hot) === 0; i++) sum += hot(i);
    expect(sum).toBeGreaterThanOrEqual(0);
    if (jitTids().length === 0) return; // the JIT is off (BUN_JSC_useJIT=0): nothing to lower
    const jit = new JitThreads();
    expect(jit.lowerNew()).toBeGreaterThan(0);
    for (const tid of jitTids()) expect(niceOf(tid)).toBe(19);
    expect(niceOf(String(process.pid))).toBe(mainNice);
  });
});

test("the watcher looks for new JIT threads after every busy tick once the JIT is back, never while idle", async () => {
  let looks = 0;
  let jit = 0;
  let reads = 0;
  let cpu = 0;
  let perTick = 0;
  const watcher = adaptToLoad({ tickMs: TICK, quietMs: 2, jitAfterMs: 30, cpuMs: () => (reads++, (cpu += perTick)), collect: () => {}, normalJit: () => jit++, onBusy: () => looks++ });
  stops.push(watcher.stop);
  const ticks = async (n: number) => {
    const until = reads + n;
    const deadline = Date.now() + 10_000;
    while (reads < until && Date.now() < deadline) await Bun.sleep(1);
  };
  await ticks(6);
  expect(looks).toBe(0);
  // Busy, but the JIT is still held back (20 of 30 ms): no look yet.
  perTick = 10;
  await ticks(2);
  expect({ jit, looks }).toEqual({ jit: 0, looks: 0 });
  // The third busy tick gives the JIT its policy, and that tick looks already.
  await ticks(4);
  expect(jit).toBe(1);
  expect(looks).toBeGreaterThanOrEqual(3);
  const seen = looks;
  perTick = 0;
  await ticks(4);
  expect(looks).toBe(seen);
});
