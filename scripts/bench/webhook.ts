/**
 * Webhook throughput over a real socket: N posts (default 5,000; half bearer, half HMAC-signed,
 * each signature recorded in the database with its outbox row) from C concurrent clients
 * (default 32), the database on disk (WAL). Prints accepted posts/s and p50/p99 latency of the
 * 202. Usage: [BENCH_AUTH=hmac|bearer] bun scripts/bench/webhook.ts [count] [concurrency]
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { MemoryBackend } from "../../src/chat/memory.ts";
import { WebhookSchema, WebSchema } from "../../src/config/schema.ts";
import { Outbox } from "../../src/delivery/outbox.ts";
import { setLogSink } from "../../src/lib/log.ts";
import { openDatabase } from "../../src/store/db.ts";
import { ReplayStore } from "../../src/store/replay.ts";
import { createServer } from "../../src/web/server.ts";
import { webhookPlugin } from "../../src/web/webhook.ts";

setLogSink(() => {});
const count = Number(process.argv[2] ?? 5_000);
const concurrency = Number(process.argv[3] ?? 32);
const TOKEN = "bench-webhook-token-0123456789abcdef0123";
const SECRET = "bench-webhook-hmac-0123456789abcdef01234";

const dir = mkdtempSync(join(tmpdir(), "st2bot-bench-webhook-"));
const db = openDatabase(join(dir, "st2bot.db"));
const outbox = new Outbox({ db, backend: new MemoryBackend(), deadAfterMs: 3_600_000, maxRetryDelayMs: 60_000 });
outbox.start();
const server = createServer({
  config: v.parse(WebSchema, { port: 0 }),
  plugins: [webhookPlugin({ config: v.parse(WebhookSchema, { token: TOKEN, hmac_secret: SECRET }), outbox: outbox.webhook, replay: new ReplayStore(db) })],
});
const { url } = await server.listen();

function request(n: number): RequestInit {
  const body = JSON.stringify({ channel: `#room${n % 10}`, message: `bench ${n}` });
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (process.env.BENCH_AUTH === "bearer" || (process.env.BENCH_AUTH !== "hmac" && n % 2)) headers.authorization = `Bearer ${TOKEN}`;
  else {
    const ts = String(Math.floor(Date.now() / 1000));
    headers["x-st2bot-timestamp"] = ts;
    headers["x-st2bot-signature"] = `sha256=${createHmac("sha256", SECRET).update(`${ts}.${body}`).digest("hex")}`;
  }
  return { method: "POST", body, headers };
}

const latencies: number[] = [];
let next = 0;
let refused = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const n = next++;
      const start = performance.now();
      const res = await fetch(`${url}/chatops/message`, request(n));
      await res.arrayBuffer();
      if (res.status !== 202) refused++;
      latencies.push(performance.now() - start);
    }
  }),
);
const seconds = (performance.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((latencies.length * p) / 100))]!.toFixed(2);
console.log(`webhook: ${count} posts, ${concurrency} clients: ${Math.round(count / seconds)} posts/s, p50 ${pct(50)} ms, p99 ${pct(99)} ms, not 202: ${refused}`);
await server.stop();
await outbox.stop();
db.close();
rmSync(dir, { recursive: true, force: true });
