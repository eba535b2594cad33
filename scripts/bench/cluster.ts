/**
 * Cluster mode on one machine: two st2bot processes, a real redis-server (AOF, everysec), the
 * StackStorm emulator; deliveries read from each instance's terminal backend.
 *
 *   bun scripts/bench/cluster.ts [count=20000]
 *
 * Prints: stream burst throughput (published → delivered through Redis), webhook burst
 * (accepted and delivered per second, posts spread over both instances), the round trip of a
 * command on the leader next to a single instance without [cluster], failover time after
 * kill -9 of the leader, and RSS per instance.
 */
import { ClusterHarness, type Node } from "./cluster-harness.ts";

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

/** `!whoami` typed into `node`'s terminal `n` times: round trips in ms (to its first reply line). */
async function roundTrips(node: Node, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let got = 0;
    node.onLine = (line, at) => {
      if (!got && line.trim()) got = at;
    };
    const sent = performance.now();
    node.type("!whoami");
    const deadline = Date.now() + 5000;
    while (!got && Date.now() < deadline) await Bun.sleep(0);
    out.push(got - sent);
    await Bun.sleep(20);
  }
  node.onLine = undefined;
  return out;
}

async function webhookBurst(h: ClusterHarness, n: number, concurrency: number): Promise<{ acceptedPerSecond: number; deliveredPerSecond: number; accepted: number }> {
  const hooks = ids("w9", n);
  let next = 0;
  let accepted = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (next < hooks.length) {
        const id = hooks[next++]!;
        if ((await h.nodes[worker % h.nodes.length]!.post(id)) === 202) accepted++;
      }
    }),
  );
  const acceptedMs = performance.now() - t0;
  await h.until("webhook burst delivered", () => h.missing(hooks).length === 0, 120_000);
  const deliveredMs = performance.now() - t0;
  return { acceptedPerSecond: Math.round(n / (acceptedMs / 1000)), deliveredPerSecond: Math.round(n / (deliveredMs / 1000)), accepted };
}

export async function runClusterBench(count: number, log: (s: string) => void = console.log): Promise<void> {
  // Baseline: one instance, no [cluster].
  const single = await ClusterHarness.start({ nodes: 1, single: true });
  try {
    await single.ready();
    await roundTrips(single.nodes[0]!, 5);
    const rt = await roundTrips(single.nodes[0]!, 50);
    log(`single instance (no [cluster]): !whoami round trip p50 ${pct(rt, 50).toFixed(2)} ms, p99 ${pct(rt, 99).toFixed(2)} ms; RSS ${single.nodes[0]!.rssMb().toFixed(0)} MB`);
  } finally {
    await single.stop();
  }

  const h = await ClusterHarness.start();
  try {
    await h.ready();
    const leader = h.node(h.leaderName());
    await roundTrips(leader, 5);
    const rt = await roundTrips(leader, 50);
    log(`cluster of two, leader: !whoami round trip p50 ${pct(rt, 50).toFixed(2)} ms, p99 ${pct(rt, 99).toFixed(2)} ms`);

    const burst = ids("m9", count);
    const t0 = performance.now();
    await h.publish(burst, Infinity);
    const publishedMs = performance.now() - t0;
    await h.until("stream burst delivered", () => h.missing(burst).length === 0, 300_000);
    const ms = performance.now() - t0;
    log(`stream burst of ${count}: published in ${publishedMs.toFixed(0)} ms; every one delivered after ${ms.toFixed(0)} ms → ${Math.round(count / (ms / 1000))} messages/s (each read by both instances, appended once); duplicates ${h.duplicated(burst)}`);

    const wh = await webhookBurst(h, Math.min(count, 10_000), 64);
    log(`webhook burst of ${Math.min(count, 10_000)} (64 concurrent posts over both instances): ${wh.acceptedPerSecond} accepted/s (202 after Redis confirmed), ${wh.deliveredPerSecond} delivered/s`);
    log(`RSS after the bursts: ${h.nodes.map((n) => `${n.name} ${n.rssMb().toFixed(0)} MB${n === leader ? " (leader)" : ""}`).join(", ")}`);

    // Failover: kill -9 of the leader during a steady 1,000/s.
    const steady = ids("m10", 6000);
    let killedAt = 0;
    const publishing = h.publish(steady, 1000);
    await Bun.sleep(1500);
    await leader.signal("SIGKILL");
    killedAt = performance.now();
    await publishing;
    await h.until("steady run delivered", () => h.missing(steady).length === 0, 60_000);
    const other = h.nodes.find((n) => n !== leader)!;
    const first = h.deliveries.find((d) => d.node === other.name && d.at > killedAt);
    log(`failover (lease 3 s, renew 1 s): kill -9 of the leader → first delivery by the new leader ${first ? (first.at - killedAt).toFixed(0) : "?"} ms; 0 of ${steady.length} lost (missing ${h.missing(steady).length}), duplicates ${h.duplicated(steady)}`);
  } finally {
    await h.stop();
  }
}

if (import.meta.main) await runClusterBench(Number(process.argv[2] ?? 20_000));
