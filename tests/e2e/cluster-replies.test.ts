/**
 * The bot's own replies in cluster mode go through the shared outbox (real processes, real
 * Redis): a command StackStorm acknowledged whose ack had not reached chat when the leader was
 * killed (-9) is delivered by the new leader. The leader's chat is held up by not reading its
 * stdout (the terminal backend confirms a send only once the pipe took it).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { ClusterHarness } from "../../scripts/bench/cluster-harness.ts";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { haveRedis } from "../support/redis.ts";

let h: ClusterHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

describe.skipIf(!haveRedis())("cluster replies (real processes, real Redis)", () => {
  test("kill -9 of the leader after StackStorm acked a command, before the ack reached chat: the new leader delivers it", async () => {
    h = await ClusterHarness.start({ emulator: { aliases: sampleAliases, actions: sampleActions } });
    await h.ready();
    const leader = h.node(h.leaderName());
    const standby = h.nodes.find((n) => n !== leader)!;
    const acks: string[] = [];
    const early: string[] = [];
    standby.onLine = (line) => void (line.includes("Looking up your packs") && acks.push(line));
    // What the leader wrote before it died (read once it is dead): the ack must not be there.
    leader.onLine = (line) => void (line.includes("Looking up your packs") && early.push(line));
    // Chat stops confirming on the leader: a burst fills its stdout pipe.
    leader.pauseOutput();
    const burst = Array.from({ length: 6000 }, (_, i) => `m9-${i}`);
    await h.publish(burst, 20_000);
    await h.until("the leader holds unconfirmed deliveries", () => Number(h!.redis!.cli("XPENDING", "st2bot:outbox", "deliver").split("\n")[0]) > 0);
    await Bun.sleep(300);
    leader.type("!st2 packs list");
    await h.until("StackStorm ran the alias", () => h!.emulator.requests.some((r) => r.method === "POST" && r.path === "/api/v1/aliasexecution"));
    // The ack is in Redis, not yet in chat.
    await h.until("the ack in the shared outbox", () => h!.redis!.cli("XRANGE", "st2bot:outbox", "-", "+").includes("Looking up your packs"), 10_000);
    await leader.signal("SIGKILL");
    leader.resumeOutput();
    await h.until("the ack delivered by the new leader", () => acks.length > 0, 20_000);
    await h.until("the burst delivered", () => h!.missing(burst).length === 0, 30_000);
    expect(acks).toHaveLength(1);
    expect(early).toHaveLength(0);
  }, 90_000);
});
