import { afterEach, expect, test } from "bun:test";
import { collectWhenQuiet } from "../../src/lib/collect.ts";

const TICK = 5;
/** A process whose CPU use per tick the test sets: every read of the clock is one tick's worth. */
function fakeProcess() {
  const p = { cpu: 0, perTick: 0, collections: 0 };
  const collector = collectWhenQuiet({ tickMs: TICK, workMs: 100, quietMs: 2, cpuMs: () => (p.cpu += p.perTick), collect: () => p.collections++ });
  stops.push(collector.stop);
  return p;
}
const stops: (() => void)[] = [];
afterEach(() => stops.splice(0).forEach((stop) => stop()));
const ticks = (n: number) => Bun.sleep(TICK * n);

test("no work, no collection: an idle process is left alone", async () => {
  const p = fakeProcess();
  await ticks(20);
  expect(p.collections).toBe(0);
});

test("a spell of work is collected once it has gone quiet, and only once", async () => {
  const p = fakeProcess();
  p.perTick = 30;
  await ticks(12);
  // Busy (30 ms of CPU per tick): never while the work goes on.
  expect(p.collections).toBe(0);
  p.perTick = 0;
  await ticks(6);
  expect(p.collections).toBe(1);
  await ticks(10);
  expect(p.collections).toBe(1);
});

test("too little work since the last collection is not worth one", async () => {
  const p = fakeProcess();
  p.perTick = 10;
  // ~5 busy ticks of 10 ms: about half of workMs, then quiet.
  await ticks(5);
  p.perTick = 0;
  await ticks(10);
  expect(p.collections).toBe(0);
});

test("the crumbs of an idle process (timers, heartbeats) never add up to a collection", async () => {
  const p = fakeProcess();
  // 1.5 ms per tick: under quietMs, though 80 ticks make more than workMs in all.
  p.perTick = 1.5;
  await ticks(80);
  expect(p.collections).toBe(0);
});

test("stop ends the watching", async () => {
  const p = fakeProcess();
  stops.pop()!();
  p.perTick = 50;
  await ticks(6);
  p.perTick = 0;
  await ticks(6);
  expect(p.collections).toBe(0);
});

test("by default it runs Bun's full, synchronous collection", async () => {
  const gc = Bun.gc;
  const calls: unknown[] = [];
  let cpu = 0;
  let busy = true;
  Bun.gc = (force?: boolean) => {
    calls.push(force);
    return gc(force);
  };
  try {
    const collector = collectWhenQuiet({ tickMs: 20, workMs: 0, cpuMs: () => (busy ? (cpu += 50) : cpu) });
    await Bun.sleep(50);
    busy = false;
    stops.push(collector.stop);
    const deadline = Date.now() + 2_000;
    while (calls.length === 0 && Date.now() < deadline) await Bun.sleep(20);
    expect(calls).toEqual([true]);
  } finally {
    Bun.gc = gc;
  }
});
