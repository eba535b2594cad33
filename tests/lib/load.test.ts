import { afterEach, expect, test } from "bun:test";
import { adaptToLoad } from "../../src/lib/load.ts";

const TICK = 5;
/** A process whose CPU use per tick the test sets: every read of the clock is one tick's worth. */
function fakeProcess() {
  const p = { cpu: 0, perTick: 0, collections: 0, jit: 0 };
  const watcher = adaptToLoad({
    tickMs: TICK,
    quietMs: 2,
    quietForMs: 3 * TICK,
    workMs: 100,
    jitAfterMs: 100,
    cpuMs: () => (p.cpu += p.perTick),
    collect: () => p.collections++,
    normalJit: () => p.jit++,
  });
  stops.push(watcher.stop);
  return p;
}
const stops: (() => void)[] = [];
afterEach(() => stops.splice(0).forEach((stop) => stop()));
const ticks = (n: number) => Bun.sleep(TICK * n);

test("an idle process is left alone: no collection, the JIT held back", async () => {
  const p = fakeProcess();
  await ticks(20);
  expect(p).toMatchObject({ collections: 0, jit: 0 });
});

test("a spell of work gets the normal JIT while it goes on, and is collected once it has gone quiet, once", async () => {
  const p = fakeProcess();
  p.perTick = 30;
  await ticks(12);
  // Busy (30 ms of CPU per tick): the JIT after ~4 ticks, never a collection while the work goes on.
  expect(p).toMatchObject({ collections: 0, jit: 1 });
  p.perTick = 0;
  await ticks(6);
  expect(p.collections).toBe(1);
  await ticks(10);
  expect(p).toMatchObject({ collections: 1, jit: 1 });
});

test("a short lull in the work is not quiet enough for a collection", async () => {
  const p = fakeProcess();
  // Busy, one quiet tick, busy again… (quietForMs is three ticks).
  const cpuPerTick = [30, 30, 30, 30, 0, 30, 0, 30, 30];
  for (const perTick of cpuPerTick) {
    p.perTick = perTick;
    await ticks(1);
  }
  expect(p.collections).toBe(0);
  p.perTick = 0;
  await ticks(8);
  expect(p.collections).toBe(1);
});

test("too little work is worth neither the JIT nor a collection", async () => {
  const p = fakeProcess();
  p.perTick = 10;
  // ~5 busy ticks of 10 ms: about half of workMs and jitAfterMs, then quiet.
  await ticks(5);
  p.perTick = 0;
  await ticks(10);
  expect(p).toMatchObject({ collections: 0, jit: 0 });
});

test("the crumbs of an idle process (timers, heartbeats) never add up to work", async () => {
  const p = fakeProcess();
  // 1.5 ms per tick: under quietMs, though 80 ticks make more than workMs in all.
  p.perTick = 1.5;
  await ticks(80);
  expect(p).toMatchObject({ collections: 0, jit: 0 });
});

test("after a start-up, the first quiet spell is collected once", async () => {
  const p = { cpu: 0, collections: 0 };
  const watcher = adaptToLoad({ afterStart: true, tickMs: TICK, quietForMs: 3 * TICK, workMs: 100, cpuMs: () => p.cpu, collect: () => p.collections++, normalJit: () => {} });
  stops.push(watcher.stop);
  await ticks(12);
  expect(p.collections).toBe(1);
});

test("stop ends the watching", async () => {
  const p = fakeProcess();
  stops.pop()!();
  p.perTick = 50;
  await ticks(6);
  p.perTick = 0;
  await ticks(6);
  expect(p).toMatchObject({ collections: 0, jit: 0 });
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
  let cpu = 0;
  let busy = true;
  try {
    const watcher = adaptToLoad({ tickMs: 20, quietForMs: 20, workMs: 0, jitAfterMs: 0, cpuMs: () => (busy ? (cpu += 50) : cpu) });
    stops.push(watcher.stop);
    await Bun.sleep(50);
    busy = false;
    const deadline = Date.now() + 2_000;
    while (calls.length < 2 && Date.now() < deadline) await Bun.sleep(20);
    expect(calls).toEqual([["jit", 1], ["shrink"]]);
  } finally {
    bun.shrink = shrink;
    Bun.unsafe.setJITPolicy = setJITPolicy;
  }
});
