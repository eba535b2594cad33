import { expect, test } from "bun:test";
import { CommandGarbage } from "../../src/lib/load.ts";

/** A CommandGarbage whose collection, scheduling and sentinel the test drives by hand. */
function fake(every = 3) {
  const pending: (() => void)[] = [];
  const f = {
    collections: 0,
    /** Set true to play JavaScriptCore collecting on its own. */
    jscCollected: false,
    /** Runs what was scheduled "later" (the next turn of the event loop). */
    turn() {
      for (const fn of pending.splice(0)) fn();
    },
    pending,
    garbage: undefined as unknown as CommandGarbage,
  };
  f.garbage = new CommandGarbage({
    every,
    collect: () => f.collections++,
    later: (fn) => pending.push(fn),
    sentinel: () => {
      f.jscCollected = false;
      return { collected: () => f.jscCollected };
    },
  });
  return f;
}

const commands = (f: ReturnType<typeof fake>, n: number) => {
  for (let i = 0; i < n; i++) {
    f.garbage.begin();
    f.garbage.end();
  }
};

test("one young collection per `every` commands, in the turn after the last one ended", () => {
  const f = fake(3);
  commands(f, 2);
  f.turn();
  expect(f.collections).toBe(0);
  commands(f, 1);
  // Not in the command's own turn: its answer goes out first.
  expect(f.collections).toBe(0);
  f.turn();
  expect(f.collections).toBe(1);
  commands(f, 3);
  f.turn();
  expect(f.collections).toBe(2);
});

test("never while a command is in flight: it waits until the last one ends", () => {
  const f = fake(2);
  f.garbage.begin();
  f.garbage.begin();
  f.garbage.end();
  f.garbage.begin();
  f.garbage.end();
  // Two ended, one still running: nothing scheduled.
  expect(f.pending.length).toBe(0);
  f.garbage.end();
  expect(f.pending.length).toBe(1);
  f.turn();
  expect(f.collections).toBe(1);
});

test("a command that starts before the scheduled turn puts the collection off to its own end", () => {
  const f = fake(2);
  commands(f, 2);
  f.garbage.begin();
  f.turn();
  expect(f.collections).toBe(0);
  f.garbage.end();
  f.turn();
  expect(f.collections).toBe(1);
});

test("when JavaScriptCore collected on its own, the count starts again", () => {
  const f = fake(3);
  commands(f, 2);
  f.jscCollected = true;
  commands(f, 2);
  f.turn();
  expect(f.collections).toBe(0);
  commands(f, 1);
  f.turn();
  expect(f.collections).toBe(1);
});

test("by default: scheduled with setImmediate, a real eden collection, and a sentinel that JavaScriptCore's own collections empty", async () => {
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  let collected = 0;
  const counted = new CommandGarbage({ every: 2, collect: () => collected++ });
  counted.begin();
  counted.end();
  await tick();
  // JavaScriptCore collects on its own: the one command before it no longer counts.
  Bun.gc(true);
  counted.begin();
  counted.end();
  await tick();
  expect(collected).toBe(0);
  counted.begin();
  counted.end();
  expect(collected).toBe(0);
  await tick();
  expect(collected).toBe(1);

  // The default collection is a real one: a young object only weakly held is gone after it.
  let young: WeakRef<object> | undefined;
  (() => (young = new WeakRef({ young: true })))();
  await tick();
  const real = new CommandGarbage({ every: 1 });
  real.begin();
  real.end();
  await tick();
  expect(young!.deref()).toBeUndefined();
});
