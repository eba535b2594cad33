/**
 * Lanes kept between messages (lanes.ts `KEEP_IDLE`): the next message for a target that was
 * sent to just now (the next command's ack) reuses its idle lane instead of building a new queue,
 * backoff and map entry, and the reused lane starts as a fresh one would. Beyond KEEP_IDLE lanes
 * an idle one is dropped as before, so one-off targets do not pile up.
 */
import { expect, test } from "bun:test";
import { Backoff } from "../../src/lib/backoff.ts";
import { type Lane, Lanes } from "../../src/delivery/lanes.ts";
import type { Entry } from "../../src/delivery/outbox-table.ts";

const entry = (id: number, key: string): Entry => ({ id, key, payload: "{}", acceptedAt: 0, createdAt: 0, attempts: 0, partsSent: 0 });
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function lanes(step: (lane: Lane) => void) {
  let backoffs = 0;
  const l = new Lanes({
    step: (lane) => {
      step(lane);
      lane.queue.shift();
      return 0;
    },
    active: () => true,
    now: () => Date.now(),
    backoff: () => {
      backoffs++;
      return new Backoff({ initialMs: 100, maxMs: 10_000, random: () => 1 });
    },
  });
  return { l, backoffs: () => backoffs };
}

test("the next message for a target reuses its idle lane, which starts as a fresh one (no failures behind it)", async () => {
  const seen: Lane[] = [];
  const delays: number[] = [];
  const alone: number[] = [];
  const { l, backoffs } = lanes((lane) => {
    seen.push(lane);
    alone.push(lane.alone);
    delays.push(lane.backoff.next());
    // What a failed batch followed by a dead message can leave behind.
    lane.backoff.next();
    lane.alone = 2;
  });
  l.push(entry(1, "room:ops"), true);
  await settle();
  l.push(entry(2, "room:ops"), true);
  await settle();
  expect(seen).toHaveLength(2);
  expect(seen[1]).toBe(seen[0]!);
  expect(backoffs()).toBe(1);
  // The second message's first failure would wait the initial delay, as on a new lane.
  expect(delays).toEqual([100, 100]);
  expect(alone).toEqual([0, 0]);
});

test("past 64 lanes an idle one is dropped: a one-off target's next message gets a new lane", async () => {
  const { l, backoffs } = lanes(() => {});
  for (let i = 1; i <= 70; i++) {
    l.push(entry(i, `user:u${i}`), true);
    await settle();
  }
  expect(backoffs()).toBe(70);
  l.push(entry(71, "user:u1"), true);
  await settle();
  expect(backoffs()).toBe(70);
  l.push(entry(72, "user:u70"), true);
  await settle();
  expect(backoffs()).toBe(71);
});
