/**
 * Chat line → execution request → ack, on loopback: st2bot's own overhead per command.
 * Also a burst of announcements through stream → outbox (on disk) → chat.
 *
 *   bun scripts/bench/roundtrip.ts [commands=2000] [burst=10000]
 *
 * The emulator runs in-process; st2bot's overhead is measured where it starts and ends:
 * message received → the /aliasexecution request leaves st2bot (its fetch is called), and
 * the response is back → the ack is handed to the chat backend.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp } from "../../src/app.ts";
import { MemoryBackend } from "../../src/chat/memory.ts";
import type { Outgoing, Target } from "../../src/chat/types.ts";
import { parseConfig } from "../../src/config/load.ts";
import { startEmulator } from "../../src/emulator/index.ts";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";

const COMMANDS = Number(process.argv[2] ?? 2000);
const BURST = Number(process.argv[3] ?? 10_000);
const KEY = "bench-api-key-0123456789";

/** A memory backend that stamps when each message reaches it. */
class TimedBackend extends MemoryBackend {
  readonly arrived: { text: string; at: number }[] = [];
  override async send(target: Target, msg: Outgoing): Promise<void> {
    this.arrived.push({ text: msg.text, at: performance.now() });
    await super.send(target, msg);
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const fmt = (ms: number) => `${ms.toFixed(3)} ms`;

const emulator = await startEmulator({ aliases: sampleAliases, actions: sampleActions, apiKeys: [KEY], completionDelayMs: 60_000 });
const dataDir = mkdtempSync(join(tmpdir(), "st2bot-bench-"));
const config = parseConfig(
  `[bot]\ndata_dir = ${JSON.stringify(dataDir)}\nlog_level = "error"\n[web]\nenabled = false\n[stackstorm]\napi_url = "${emulator.apiUrl}"\nauth_url = "${emulator.authUrl}"\nstream_url = "${emulator.streamUrl}"\n[stackstorm.api_auth]\napikey = "${KEY}"\n`,
  "<bench>",
);
let requestLeft = 0;
let responseBack = 0;
const timedFetch = (async (input: string | URL, init?: RequestInit) => {
  const isExec = String(input).endsWith("/aliasexecution");
  if (isExec) requestLeft = performance.now();
  const res = await fetch(input, init as never);
  if (isExec) responseBack = performance.now();
  return res;
}) as never;
const backend = new TimedBackend({ name: "bench" });
const rssBefore = process.memoryUsage().rss;
const t0 = performance.now();
const app = await startApp({ config, backend, fetch: timedFetch });
const readyMs = performance.now() - t0;

// 1. Commands: one at a time, as a person types them.
const toRequest: number[] = [];
const toAck: number[] = [];
const overhead: number[] = [];
for (let i = 0; i < COMMANDS + 100; i++) {
  const n = backend.arrived.length;
  const start = performance.now();
  await backend.receive({ text: `!st2 run uptime-${i} on web${i % 7}`, roomName: "ops" });
  while (backend.arrived.length === n) await Bun.sleep(0);
  const acked = backend.arrived[n]!.at;
  if (i < 100) continue; // warm-up
  toRequest.push(requestLeft - start);
  toAck.push(acked - start);
  overhead.push(requestLeft - start + (acked - responseBack));
}
console.log(`commands: ${COMMANDS} (after 100 warm-up), aliases: ${app.aliases.index.size}`);
console.log(`  chat line → execution request sent: p50 ${fmt(pct(toRequest, 50))}  p99 ${fmt(pct(toRequest, 99))}`);
console.log(`  st2bot's own overhead (line → request + response → ack): p50 ${fmt(pct(overhead, 50))}  p99 ${fmt(pct(overhead, 99))}`);
console.log(`  chat line → ack out (incl. the emulator's StackStorm work): p50 ${fmt(pct(toAck, 50))}  p99 ${fmt(pct(toAck, 99))}`);

// 2. A burst of announcements through the stream, the outbox on disk, and the backend.
await Bun.sleep(200);
const before = backend.arrived.length;
const emitted: number[] = [];
const b0 = performance.now();
for (let i = 0; i < BURST; i++) {
  emitted.push(performance.now());
  emulator.announce("errbot", { message: `burst ${i}`, channel: `#room${i % 20}` });
  if (i % 500 === 499) await Bun.sleep(0);
}
while (backend.arrived.length - before < BURST) await Bun.sleep(5);
const b1 = performance.now();
const latencies = backend.arrived.slice(before).map((m) => m.at - emitted[Number(m.text.slice(6))]!);
console.log(`burst: ${BURST} announcements, stream → outbox (SQLite on disk, WAL) → chat`);
console.log(`  throughput ${Math.round(BURST / ((b1 - b0) / 1000))} messages/s; emission → delivery p50 ${fmt(pct(latencies, 50))}  p99 ${fmt(pct(latencies, 99))}`);
console.log(`  lost: ${BURST - (backend.arrived.length - before)}`);
console.log(`ready in ${readyMs.toFixed(0)} ms (in-process start, aliases loaded); RSS now ${(process.memoryUsage().rss / 1048576).toFixed(0)} MB (before start ${(rssBefore / 1048576).toFixed(0)} MB, emulator included)`);
await app.stop();
await emulator.stop();
rmSync(dataDir, { recursive: true, force: true });
