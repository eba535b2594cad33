/**
 * Outbox throughput: enqueue N announcements (default 10,000) and deliver them to a
 * MemoryBackend, the database on disk (WAL). Prints msgs/s and p50/p99 latency from enqueue to
 * the confirmed send. Usage: bun scripts/bench/outbox.ts [count] [targets]
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

async function run(label: string, batchSize: number): Promise<void> {
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
      latencies.push(performance.now() - enqueuedAt.get(id)!);
      if (++delivered === count) finish();
    },
  });
  outbox.start();
  const t0 = performance.now();
  let inEnqueue = 0;
  for (let i = 0; i < count; i += batchSize) {
    for (let j = i; j < Math.min(count, i + batchSize); j++) {
      const at = performance.now();
      const id = outbox.enqueue({ message: `Action core.local completed.\nstatus : succeeded\nexecution: ${j}`, channel: `#room${j % targets}` }, "stream");
      enqueuedAt.set(id, at);
      inEnqueue += performance.now() - at;
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

await run("bursts of 100", 100);
await run("bursts of 1000", 1000);
await run("one at a time", 1);
