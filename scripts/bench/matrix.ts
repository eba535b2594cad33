/**
 * The Matrix backend end to end against the homeserver emulator (tests/emulators/matrix/index.ts), on
 * loopback, through a whole st2bot (`startApp`, `[bot] backend = "matrix"`):
 * 1. round trip: a person's line in a room → /sync → st2bot → StackStorm → ack event received
 *    by the homeserver (the bot's PUT /send answered);
 * 2. burst: announcements to several rooms through the outbox and PUT /send, counting lost and
 *    duplicated events; then the same burst with 429s injected (retry_after_ms 200).
 *
 * 3. idle RSS of the compiled binary (dist/st2bot, built when missing) connected to Matrix,
 *    next to the same binary on the terminal backend.
 *
 *   bun scripts/bench/matrix.ts [commands=300] [burst=2000]
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp } from "../../src/app.ts";
import { BACKEND_SECTIONS } from "../../src/chat/registry.ts";
import { parseConfig } from "../../src/config/load.ts";
import { startEmulator } from "../../src/emulator/index.ts";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { startMatrixEmulator } from "../../tests/emulators/matrix/index.ts";

const COMMANDS = Number(process.argv[2] ?? 300);
const BURST = Number(process.argv[3] ?? 2000);
const KEY = "bench-api-key-0123456789";
const TOKEN = "syt_bench_token_0123456789";
const ROOMS = 4;

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

const mx = startMatrixEmulator({
  bot: "st2bot",
  users: [{ name: "st2bot", tokens: [TOKEN] }, { name: "alice" }],
  rooms: Array.from({ length: ROOMS }, (_, i) => ({ alias: `#room${i}:emu.test`, members: ["alice", "st2bot"] })),
});
const st2 = await startEmulator({ aliases: sampleAliases, actions: sampleActions, apiKeys: [KEY], completionDelayMs: 600_000 });
const dataDir = mkdtempSync(join(tmpdir(), "st2bot-bench-matrix-"));
const config = parseConfig(
  `[bot]\nbackend = "matrix"\ndata_dir = ${JSON.stringify(dataDir)}\nlog_level = "error"\n[web]\nenabled = false\n[outbox]\nmax_retry_delay_seconds = 1\n` +
    `[stackstorm]\napi_url = "${st2.apiUrl}"\nauth_url = "${st2.authUrl}"\nstream_url = "${st2.streamUrl}"\n[stackstorm.api_auth]\napikey = "${KEY}"\n` +
    `[matrix]\nhomeserver = "${mx.url}"\naccess_token = "${TOKEN}"\n`,
  "<bench>",
  {},
  BACKEND_SECTIONS,
);
const t0 = performance.now();
const app = await startApp({ config });
while (app.backend.status().state !== "connected") await Bun.sleep(5);
console.log(`connected in ${(performance.now() - t0).toFixed(0)} ms (app start, whoami, first /sync)`);

// 1. Round trip, one command at a time.
const room0 = mx.room("#room0:emu.test").id;
const trips: number[] = [];
for (let i = 0; i < COMMANDS + 20; i++) {
  const n = mx.received.length;
  const start = performance.now();
  mx.say("alice", room0, `!st2 run uptime-${i} on web1`);
  while (mx.received.length === n) await Bun.sleep(0);
  if (i >= 20) trips.push(performance.now() - start);
}
console.log(`round trip (line in a room → /sync → st2bot → StackStorm → ack stored by the homeserver), ${COMMANDS} commands after 20 warm-up:`);
console.log(`  p50 ${fmt(pct(trips, 50))}  p99 ${fmt(pct(trips, 99))}  max ${fmt(Math.max(...trips))}`);

// 2. Bursts of announcements across rooms.
async function burst(label: string, limited: number): Promise<void> {
  await Bun.sleep(100);
  const before = mx.received.length;
  const tag = `${label}-${Date.now()}`;
  if (limited) mx.inject429(limited, 200);
  const b0 = performance.now();
  for (let i = 0; i < BURST; i++) {
    st2.announce("errbot", { message: `${tag} ${i}`, channel: `#room${i % ROOMS}:emu.test` });
    if (i % 500 === 499) await Bun.sleep(0);
  }
  const mine = () => mx.received.slice(before).filter((s) => String(s.event.content.body).startsWith(`${tag} `));
  const deadline = Date.now() + 120_000;
  while (new Set(mine().map((s) => s.event.content.body)).size < BURST && Date.now() < deadline) await Bun.sleep(10);
  const secs = (performance.now() - b0) / 1000;
  const got = mine().map((s) => String(s.event.content.body));
  const unique = new Set(got).size;
  // Per room, in order?
  const inOrder = Array.from({ length: ROOMS }, (_, r) => mine().filter((s) => s.roomId === mx.room(`#room${r}:emu.test`).id).map((s) => Number(String(s.event.content.body).split(" ").at(-1))))
    .every((xs) => {
      const bad = xs.findIndex((x, i) => i > 0 && x <= xs[i - 1]!);
      if (bad > 0 && process.env.BENCH_DEBUG) console.log("out of order:", xs.slice(Math.max(0, bad - 3), bad + 3));
      return bad < 0;
    });
  console.log(`burst ${label}: ${BURST} announcements to ${ROOMS} rooms in ${secs.toFixed(2)} s = ${Math.round(BURST / secs)} messages/s; lost ${BURST - unique}, duplicated ${got.length - unique}, in order per room: ${inOrder}`);
}
await burst("clean", 0);
await burst("with 20 × 429 (retry_after_ms 200)", 20);

await app.stop();

// 3. The compiled binary, idle, on Matrix and on the terminal backend.
const root = join(import.meta.dir, "..", "..");
const binary = join(root, "dist", "st2bot");
if (!existsSync(binary)) Bun.spawnSync([process.execPath, join(root, "scripts", "build.ts")], { stdout: "inherit", stderr: "inherit" });
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) / 1024;
async function idleRss(backendToml: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "st2bot-bench-matrix-rss-"));
  const file = join(dir, "st2bot.toml");
  writeFileSync(file, `[bot]\ndata_dir = ${JSON.stringify(dir)}\n${backendToml}\n[web]\nport = 0\n[stackstorm]\napi_url = "${st2.apiUrl}"\nauth_url = "${st2.authUrl}"\nstream_url = "${st2.streamUrl}"\n[stackstorm.api_auth]\napikey = "${KEY}"\n${backendToml.includes("matrix") ? `[matrix]\nhomeserver = "${mx.url}"\naccess_token = "${TOKEN}"\n` : ""}`);
  const seen = mx.requests.length;
  const proc = Bun.spawn([binary, "run", "-c", file], { stdin: "pipe", stdout: "ignore", stderr: "ignore" });
  await Bun.sleep(3000);
  const mb = rssMb(proc.pid);
  if (backendToml.includes("matrix") && !mx.requests.slice(seen).includes("GET /sync")) console.log("  (the binary never reached /sync: its figure is not a connected bot's)");
  proc.kill();
  await proc.exited;
  rmSync(dir, { recursive: true, force: true });
  return mb;
}
const rssText: number[] = [];
const rssMatrix: number[] = [];
for (let i = 0; i < 3; i++) {
  rssText.push(await idleRss(`backend = "text"`));
  rssMatrix.push(await idleRss(`backend = "matrix"`));
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
console.log(`dist/st2bot idle RSS (median of 3, 3 s after start): terminal backend ${med(rssText).toFixed(0)} MB, Matrix backend (connected, /sync long-polling) ${med(rssMatrix).toFixed(0)} MB`);
await st2.stop();
await mx.stop();
rmSync(dataDir, { recursive: true, force: true });
