/**
 * The bot's own replies in cluster mode go through the shared outbox (real processes, real
 * Redis): a command StackStorm acknowledged whose ack had not reached chat when the leader was
 * killed (-9) is delivered by the new leader. The leader's chat is held up by not reading its
 * stdout (the terminal backend confirms a send only once the pipe took it).
 *
 * The burst's messages are long on purpose: the stdout "pipe" is a Unix socket pair whose
 * capacity in bytes depends on the size of each write (every write costs a buffer of its own),
 * and the harness's reader takes some ahead. 6,000 short lines written one at a time filled it;
 * written in batches of 64 they all fit (about 6 times as many bytes per buffer), chat never
 * stalled, and the ack was delivered and deleted from the stream before the test looked
 * (c-batch's note). Megabytes of text cannot fit, however they are written.
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
    // Burst ids seen in chat (the harness's own count wants the id alone on its line).
    const seen = new Set<string>();
    const watch = (line: string) => {
      const id = / (m9-\d+)$/.exec(line)?.[1];
      if (id) seen.add(id);
      return line.includes("Looking up your packs");
    };
    standby.onLine = (line) => void (watch(line) && acks.push(line));
    // What the leader wrote before it died (read once it is dead): the ack must not be there.
    leader.onLine = (line) => void (watch(line) && early.push(line));
    // Chat stops confirming on the leader: a burst of 6 MB fills its stdout (see the file comment).
    leader.pauseOutput();
    const pad = "x".repeat(2000);
    const burst = Array.from({ length: 3000 }, (_, i) => `m9-${i}`);
    for (let i = 0; i < burst.length; i++) {
      h.emulator.announce("errbot", { message: `${pad} ${burst[i]}`, channel: `#bench${i % 10}` });
      if (i % 100 === 99) await Bun.sleep(0);
    }
    await h.until("the leader holds unconfirmed deliveries", () => Number(h!.redis!.cli("XPENDING", "st2bot:outbox", "deliver").split("\n")[0]) > 0);
    await Bun.sleep(300);
    leader.type("!st2 packs list");
    await h.until("StackStorm ran the alias", () => h!.emulator.requests.some((r) => r.method === "POST" && r.path === "/api/v1/aliasexecution"));
    // The ack is in Redis, not yet in chat. Only the stream's tail is read: redis-cli's output
    // of the whole stream would pass spawnSync's 1 MiB limit and be cut before the ack.
    const tail = () => h!.redis!.cli("XREVRANGE", "st2bot:outbox", "+", "-", "COUNT", "20");
    await h.until("the ack in the shared outbox", () => tail().includes("Looking up your packs"), 10_000);
    await leader.signal("SIGKILL");
    leader.resumeOutput();
    await h.until("the ack delivered by the new leader", () => acks.length > 0, 20_000);
    await h.until("the burst delivered", () => burst.every((id) => seen.has(id)), 30_000);
    expect(acks).toHaveLength(1);
    expect(early).toHaveLength(0);
  }, 90_000);
});
