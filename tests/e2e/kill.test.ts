/**
 * st2bot killed with SIGKILL in the middle of a burst and restarted: every announcement it
 * had accepted (stored in its outbox) is delivered; duplicates are bounded.
 */
import { expect, test } from "bun:test";
import { runKillTest } from "../../scripts/bench/killtest.ts";

test("kill -9 mid-burst, restart: nothing accepted is lost", async () => {
  const r = await runKillTest(1500);
  expect(r.accepted).toBeGreaterThan(r.published / 2);
  expect(r.lost).toBe(0);
  // At most one batch of confirmed-but-not-yet-deleted rows is sent twice.
  expect(r.duplicated).toBeLessThanOrEqual(64);
}, 120_000);
