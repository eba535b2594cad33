/**
 * RSS of two real st2bot instances (cluster harness, real Redis) across repeated stream bursts:
 * idle, right after each burst was delivered, and after the de-duplication window passed. A
 * figure that keeps climbing burst after burst is retention; one that levels off is the
 * allocator's high-water mark. `bun scripts/bench/cluster-rss.ts [burst] [rounds]`.
 */
import { ClusterHarness } from "./cluster-harness.ts";

const n = Number(process.argv[2] ?? 20000);
const rounds = Number(process.argv[3] ?? 3);
const windowS = 10;
const h = await ClusterHarness.start({ cluster: [`dedupe_window_seconds = ${windowS}`] });
try {
  await h.ready();
  await Bun.sleep(2000);
  const rss = (label: string) => console.log(`${label}: ${h.nodes.map((x) => `${x.name}${x.name === h.leaderName() ? " (leader)" : ""} ${x.rssMb().toFixed(0)} MB`).join(", ")}`);
  rss("idle");
  for (let r = 1; r <= rounds; r++) {
    const ids = Array.from({ length: n }, (_, i) => `m${r}-${i}`);
    await h.publish(ids, 10_000);
    await h.until("delivered", () => h.missing(ids).length === 0, 120_000);
    rss(`round ${r}: ${n} delivered`);
    await Bun.sleep((windowS + 5) * 1000);
    rss(`round ${r}: ${windowS + 5} s later`);
  }
} finally {
  await h.stop();
}
