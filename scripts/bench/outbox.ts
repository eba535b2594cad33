/**
 * Outbox throughput: hand over N announcements (default 10,000) and deliver them to a
 * MemoryBackend, the database on disk (WAL). Prints msgs/s and p50/p99 latency from hand-over to
 * the confirmed send, for each way in: the bot's replies (`enqueue`, NORMAL), the stream
 * (`enqueueSoon`: one FULL commit per turn), the webhook one post at a time (`enqueue`, one FULL
 * commit each) and the webhook with concurrent posts (`accept`: one FULL commit per turn).
 * Usage: bun scripts/bench/outbox.ts [count] [targets]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryBackend } from "../../src/chat/memory.ts";
import { Outbox } from "../../src/delivery/outbox.ts";
import { openDatabase } from "../../src/store/db.ts";

const count = Number(process.argv[2] ?? 10_000);
const targets = Number(process.argv[3] ?? 10);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

type Way = "bot" | "stream" | "webhook" | "webhook-accept";

async function run(label: string, batchSize: number, way: Way, n = count): Promise<void> {
  const count = n;
  const dir = mkdtempSync(join(tmpdir(), "st2bot-bench-"));
  const db = openDatabase(join(dir, "st2bot.db"));
  const backend = new MemoryBackend();
  const enqueuedAt = new Map<number, number>();
  const latencies: number[] = [];
  let delivered = 0;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const outbox = new Outbox({
    db,
    backend,
    deadAfterMs: 3_600_000,
    maxRetryDelayMs: 60_000,
    onDelivered: (id) => {
      // Ids are assigned in hand-over order; the stream's stamps are kept in that order too.
      latencies.push(performance.now() - (enqueuedAt.get(id) ?? stamps[id - 1]!));
      if (++delivered === count) finish();
    },
  });
  outbox.start();
  const t0 = performance.now();
  let inEnqueue = 0;
  const pending: [{ message: string; channel: string }, number][] = [];
  const stamps: number[] = [];
  for (let i = 0; i < count; i += batchSize) {
    for (let j = i; j < Math.min(count, i + batchSize); j++) {
      const at = performance.now();
      const a = { message: `Action core.local completed.\nstatus : succeeded\nexecution: ${j}`, channel: `#room${j % targets}` };
      if (way === "bot" || way === "webhook") enqueuedAt.set(outbox.enqueue(a, way), at);
      else if (way === "stream") pending.push([a, at]);
      else void outbox.accept(a, "webhook").then((id) => enqueuedAt.set(id, at));
      inEnqueue += performance.now() - at;
    }
    // The stream's batches are stored in the turn after they arrived; keep the ids' stamps.
    if (way === "stream") {
      for (const [a, at] of pending.splice(0)) {
        outbox.enqueueSoon(a, "stream");
        stamps.push(at);
      }
    }
    // Let delivery run between bursts, as a stream listener would between events.
    await new Promise((resolve) => setImmediate(resolve));
  }
  await done;
  const t2 = performance.now();
  await outbox.stop();
  db.close();
  rmSync(dir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  const rate = (count / (t2 - t0)) * 1000;
  console.log(
    `${label}: ${count} msgs to ${targets} targets: ${Math.round(rate)} msgs/s end to end ` +
      `(time inside enqueue: ${Math.round(inEnqueue)} ms, ${Math.round((count / inEnqueue) * 1000)} enqueues/s); latency p50 ${percentile(latencies, 50).toFixed(2)} ms, ` +
      `p99 ${percentile(latencies, 99).toFixed(2)} ms; sent ${backend.sent.length}`,
  );
}

await run("bot replies (enqueue, NORMAL), bursts of 100", 100, "bot");
await run("stream (enqueueSoon, FULL per turn), bursts of 100", 100, "stream");
await run("stream (enqueueSoon, FULL per turn), bursts of 1000", 1000, "stream");
await run("webhook, concurrent posts (accept, FULL per turn), bursts of 100", 100, "webhook-accept");
await run("webhook, one post at a time (enqueue, FULL each)", 1, "webhook", Math.min(count, 1000));
