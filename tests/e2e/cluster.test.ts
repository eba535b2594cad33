/**
 * Cluster mode with real processes: two st2bot instances, a real redis-server, the StackStorm
 * emulator; deliveries counted on each instance's stdout (terminal backend). Each scenario of
 * issue 16 counts what was published or accepted and what arrived.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { ClusterHarness } from "../../scripts/bench/cluster-harness.ts";
import { haveRedis } from "../support/redis.ts";

let h: ClusterHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

describe.skipIf(!haveRedis())("cluster of two (real processes, real Redis)", () => {
  test("kill -9 of the leader mid-burst (stream and webhook): nothing lost, the standby delivers within 5 s", async () => {
    h = await ClusterHarness.start();
    await h.ready();
    const leader = h.node(h.leaderName());
    const standby = h.nodes.find((n) => n !== leader)!;
    const stream = ids("m1", 3000);
    const hooks = ids("w1", 300);
    let killedAt = 0;
    const accepted: string[] = [];
    const posting = (async () => {
      for (let i = 0; i < hooks.length; i++) {
        // Post to the standby: the leader is about to die, and every instance accepts webhooks.
        if ((await standby.post(hooks[i]!)) === 202) accepted.push(hooks[i]!);
        await Bun.sleep(5);
      }
    })();
    const killing = (async () => {
      await h!.until("a third delivered", () => h!.deliveries.length >= 1000, 60_000);
      await leader.signal("SIGKILL");
      killedAt = performance.now();
    })();
    await Promise.all([h.publish(stream, 1500), posting, killing]);
    await h.until("everything delivered", () => h!.missing(stream).length === 0 && h!.missing(accepted).length === 0, 60_000);
    const firstAfter = h.deliveries.find((d) => d.node === standby.name && d.at > killedAt)!;
    const failoverMs = firstAfter.at - killedAt;
    console.log(`kill -9: failover to first delivery ${failoverMs.toFixed(0)} ms; duplicates ${h.duplicated(stream) + h.duplicated(accepted)}; webhooks accepted ${accepted.length}/${hooks.length}`);
    expect(accepted.length).toBe(hooks.length);
    expect(failoverMs).toBeLessThan(5000);
    // Duplicates only among what the dead leader had read and not confirmed (at most a read batch).
    expect(h.duplicated(stream) + h.duplicated(accepted)).toBeLessThanOrEqual(1000);
  }, 120_000);
});
