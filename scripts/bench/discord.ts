/**
 * The round trip and a burst through the Discord backend, against the Discord emulator (REST +
 * gateway on loopback, driven through @discordjs/rest and @discordjs/ws) and the StackStorm one.
 *
 *   bun scripts/bench/discord.ts [commands=200] [burst=1000] [buckets=open|discord]
 *
 * Round trip: a person's message leaves the emulator's gateway → the ack is accepted by the
 * emulator's REST (HTTP 200). Burst: announcements on the StackStorm stream → outbox (SQLite on
 * disk) → `POST /channels/{id}/messages` over 20 channels. `buckets=discord` applies Discord's
 * real per-channel limit (5 messages per 5 s): the outbox paces to it, and any 429 is waited out.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp } from "../../src/app.ts";
import { BACKEND_SECTIONS } from "../../src/chat/registry.ts";
import { parseConfig } from "../../src/config/load.ts";
import { startEmulator } from "../../src/emulator/index.ts";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { startDiscordEmulator } from "../../tests/emulators/discord.ts";

const COMMANDS = Number(process.argv[2] ?? 200);
const BURST = Number(process.argv[3] ?? 1000);
const REAL_BUCKETS = process.argv[4] === "discord";
const KEY = "bench-api-key-0123456789";
const TOKEN = "bench.discord.token-0123456789abcdef";

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

const st2 = await startEmulator({ aliases: sampleAliases, actions: sampleActions, apiKeys: [KEY], completionDelayMs: 60_000 });
const discord = startDiscordEmulator({ token: TOKEN, bucket: REAL_BUCKETS ? { limit: 5, windowMs: 5000 } : { limit: 1e9, windowMs: 1000 } });
discord.addUser("alice");
const rooms = Array.from({ length: 20 }, (_, i) => discord.addChannel(`room${i}`));
const dataDir = mkdtempSync(join(tmpdir(), "st2bot-bench-discord-"));
const config = parseConfig(
  `[bot]\nbackend = "discord"\ndata_dir = ${JSON.stringify(dataDir)}\nlog_level = "error"\n[web]\nenabled = false\n[outbox]\nmax_retry_delay_seconds = 2\n[stackstorm]\napi_url = "${st2.apiUrl}"\nauth_url = "${st2.authUrl}"\nstream_url = "${st2.streamUrl}"\n[stackstorm.api_auth]\napikey = "${KEY}"\n[discord]\ntoken = "${TOKEN}"\napi_url = "${discord.apiUrl}"\n`,
  "<bench>",
  {},
  BACKEND_SECTIONS,
);
const t0 = performance.now();
const app = await startApp({ config });
while (app.backend.status().state !== "connected") await Bun.sleep(5);
console.log(`connected (GET /gateway/bot, HELLO, IDENTIFY, READY) in ${(performance.now() - t0).toFixed(0)} ms; buckets: ${REAL_BUCKETS ? "Discord's 5 per 5 s per channel" : "open"}`);

// 1. Commands one at a time, as people type them, round-robin over the 20 channels and at most
// 8 a second: the outbox paces each channel to Discord's 1 message/s (burst 5) and the whole
// backend to Discord's global 50/s, and this measures st2bot and the libraries, not that pacing.
const trips: number[] = [];
for (let i = 0; i < COMMANDS + 20; i++) {
  const n = discord.received.length;
  const start = performance.now();
  discord.say("alice", rooms[i % 20]!.id, `!st2 run uptime-${i} on web${i % 7}`);
  while (discord.received.length === n) await Bun.sleep(0);
  if (i >= 20) trips.push(performance.now() - start);
  await Bun.sleep(Math.max(0, 125 - (performance.now() - start)));
}
console.log(`round trip (message on the gateway → ack accepted by REST), ${trips.length} commands: p50 ${fmt(pct(trips, 50))}  p99 ${fmt(pct(trips, 99))}`);

// 2. A burst of announcements over 20 channels.
await Bun.sleep(5500); // every channel's bucket full again
const before = discord.received.length;
const attempts0 = discord.sendAttempts.length;
const b0 = performance.now();
for (let i = 0; i < BURST; i++) {
  st2.announce("errbot", { message: `burst ${i}`, channel: `<#${rooms[i % 20]!.id}>` });
  if (i % 500 === 499) await Bun.sleep(0);
}
const mine = () => discord.received.length - before;
const deadline = Date.now() + 600_000;
while (mine() < BURST && Date.now() < deadline) await Bun.sleep(5);
const secs = (performance.now() - b0) / 1000;
const attempts = discord.sendAttempts.slice(attempts0);
console.log(`burst: ${BURST} announcements over 20 channels → outbox → POST /channels/{id}/messages`);
console.log(`  ${Math.round(mine() / secs)} messages/s (${secs.toFixed(1)} s); 429s met: ${attempts.filter((a) => a.status === 429).length}; lost: ${BURST - mine()}; duplicates: ${mine() - new Set(discord.received.slice(before).map((m) => m.content)).size}`);
console.log(`RSS ${(process.memoryUsage().rss / 1048576).toFixed(0)} MB (both emulators in the same process)`);
await app.stop();
await st2.stop();
await discord.stop();
rmSync(dataDir, { recursive: true, force: true });
