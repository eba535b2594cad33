/**
 * What cluster mode keeps in memory after a burst: two st2bot apps in this process (memory chat
 * backends, real Redis), a burst of stream announcements, then the heap's object counts and
 * sizes (bun:jsc heapStats after a full GC) right after it and after the de-duplication window
 * has passed, against the idle baseline. Prints figures; `bun scripts/bench/cluster-memory.ts [n]`.
 */
import { heapStats } from "bun:jsc";
import { startBot } from "../../tests/support/bot.ts";
import { waitFor } from "../../tests/support/wait.ts";
import { RedisServer } from "../../tests/support/redis.ts";

const n = Number(process.argv[2] ?? 20000);
const windowS = Number(process.argv[3] ?? 5);
const redis = await RedisServer.start();
const toml = (name: string) => `[cluster]\nredis_url = "${redis.url}"\ninstance = "${name}"\ndedupe_window_seconds = ${windowS}\n# Both apps and the emulator share this process's loop: a long lease rides out its stalls.\nlease_seconds = 30\nrenew_seconds = 5`;
const a = await startBot({ toml: toml("a") });
await waitFor("a leads", () => a.app.cluster!.status().role === "leader");
const b = await startBot({ toml: toml("b"), useEmulator: a.emulator });
await waitFor("streams", () => a.app.streamState().state === "open" && b.app.streamState().state === "open");

function snapshot(label: string, base?: ReturnType<typeof heapStats>) {
  Bun.gc(true);
  const s = heapStats();
  const rss = process.memoryUsage().rss / 2 ** 20;
  console.log(`${label}: RSS ${rss.toFixed(0)} MB, heap ${(s.heapSize / 2 ** 20).toFixed(1)} MB, objects ${s.objectCount}`);
  if (base) {
    const grown = Object.entries(s.objectTypeCounts)
      .map(([k, v]) => [k, v - (base.objectTypeCounts[k] ?? 0)] as const)
      .filter(([, d]) => d > 500)
      .sort((x, y) => y[1] - x[1])
      .slice(0, 12);
    console.log(`  grown since idle: ${grown.map(([k, d]) => `${k} +${d}`).join(", ") || "nothing over 500"}`);
  }
  return s;
}

const idle = snapshot("idle");
for (let round = 1; round <= 2; round++) {
  for (let i = 0; i < n; i++) {
    a.emulator.announce("errbot", { message: `r${round}-${i}`, channel: `#bench${i % 10}` });
    if (i % 200 === 0) await Bun.sleep(1);
  }
  await waitFor("delivered", () => a.backend.sent.length >= n, 120_000);
  a.backend.sent.length = 0;
  await Bun.sleep(500);
  snapshot(`round ${round}, just after ${n} delivered`, idle);
  await Bun.sleep(windowS * 1000 + 2000);
  snapshot(`round ${round}, ${windowS + 2} s later`, idle);
}
console.log(`intake seen-map sizes: a ${(a.app.cluster!.intake as unknown as { seen: Map<string, unknown> }).seen.size}, b ${(b.app.cluster!.intake as unknown as { seen: Map<string, unknown> }).seen.size}`);
await b.stop();
await a.stop();
await redis.close();
