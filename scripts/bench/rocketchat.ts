/**
 * The Rocket.Chat backend end to end against the Rocket.Chat emulator (tests/emulators/rocketchat.ts),
 * on loopback, through a whole st2bot (`startApp`, `[bot] backend = "rocketchat"`):
 * 1. round trip: a person's line in a room → DDP `changed` → st2bot → StackStorm → ack stored by
 *    the server (the bot's REST send answered);
 * 2. burst: announcements to several rooms through the outbox and chat.sendMessage, counting lost
 *    and duplicated messages and per-room order; then with 429s (X-RateLimit-Reset 200 ms) and
 *    with lost answers (504 after storing: the retry must not post twice).
 *
 *   bun scripts/bench/rocketchat.ts [commands=300] [burst=2000]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp } from "../../src/app.ts";
import { BACKEND_SECTIONS } from "../../src/chat/registry.ts";
import { parseConfig } from "../../src/config/load.ts";
import { startEmulator } from "../../src/emulator/index.ts";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { startRocketChatEmulator } from "../../tests/emulators/rocketchat.ts";

const COMMANDS = Number(process.argv[2] ?? 300);
const BURST = Number(process.argv[3] ?? 2000);
const KEY = "bench-api-key-0123456789";
const TOKEN = "pat-bench-token-0123456789";
const ROOMS = 4;

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

const st2 = await startEmulator({ aliases: sampleAliases, actions: sampleActions, apiKeys: [KEY], completionDelayMs: 60_000 });
const rooms = Array.from({ length: ROOMS }, (_, i) => ({ name: `room${i}`, members: ["st2bot", "alice"] }));
const rc = startRocketChatEmulator({ users: [{ username: "st2bot", token: TOKEN }, { username: "alice" }], rooms: [{ name: "general", members: ["st2bot", "alice"] }, ...rooms] });
const dataDir = mkdtempSync(join(tmpdir(), "st2bot-bench-rc-"));
const config = parseConfig(
  `[bot]\nbackend = "rocketchat"\ndata_dir = ${JSON.stringify(dataDir)}\nlog_level = "error"\n[web]\nenabled = false\n[outbox]\nmax_retry_delay_seconds = 1\n` +
    `[stackstorm]\napi_url = "${st2.apiUrl}"\nauth_url = "${st2.authUrl}"\nstream_url = "${st2.streamUrl}"\n[stackstorm.api_auth]\napikey = "${KEY}"\n` +
    `[rocketchat]\nurl = "${rc.url}"\nuser_id = "${rc.user("st2bot")._id}"\ntoken = "${TOKEN}"\n`,
  "<bench>",
  {},
  BACKEND_SECTIONS,
);
const t0 = performance.now();
const app = await startApp({ config });
while (app.backend.status().state !== "connected" || app.streamState().state !== "open") await Bun.sleep(5);
console.log(`connected in ${(performance.now() - t0).toFixed(0)} ms (app start, /me, DDP connect + login + sub)`);

// 1. Round trip, one command at a time as a person types them.
const trips: number[] = [];
for (let i = 0; i < COMMANDS + 20; i++) {
  const n = rc.received.length;
  const start = performance.now();
  rc.userSays({ user: "alice", room: "#general", text: `!st2 run uptime-${i} on web${i % 7}` });
  while (rc.received.length === n) await Bun.sleep(0);
  if (i >= 20) trips.push(performance.now() - start);
}
console.log(`round trip (line in a room → DDP → st2bot → StackStorm → ack stored by the server), ${COMMANDS} commands after 20 warm-up:`);
console.log(`  p50 ${fmt(pct(trips, 50))}  p99 ${fmt(pct(trips, 99))}  max ${fmt(Math.max(...trips))}`);

// 2. Bursts of announcements to several rooms.
async function burst(label: string, prepare: () => void): Promise<void> {
  await Bun.sleep(200);
  const before = rc.received.length;
  prepare();
  const b0 = performance.now();
  for (let i = 0; i < BURST; i++) {
    st2.announce("errbot", { message: `${label} ${i}`, channel: `#room${i % ROOMS}` });
    if (i % 500 === 499) await Bun.sleep(0);
  }
  const mine = () => rc.received.slice(before).filter((m) => m.msg.startsWith(`${label} `));
  const deadline = Date.now() + 120_000;
  while (new Set(mine().map((m) => m.msg)).size < BURST && Date.now() < deadline) await Bun.sleep(5);
  await Bun.sleep(300); // late duplicates, if any, would arrive now
  const secs = (performance.now() - b0) / 1000;
  const got = mine();
  const unique = new Set(got.map((m) => m.msg)).size;
  const inOrder = rooms.every((r) => {
    const xs = got.filter((m) => rc.describeRoom(m.rid) === `#${r.name}`).map((m) => Number(m.msg.split(" ")[1]));
    return xs.every((x, k) => k === 0 || x > xs[k - 1]!);
  });
  console.log(`burst ${label}: ${BURST} announcements to ${ROOMS} rooms in ${secs.toFixed(2)} s = ${Math.round(BURST / secs)} messages/s; lost ${BURST - unique}, duplicated ${got.length - unique}, in order per room: ${inOrder}`);
}
await burst("plain", () => undefined);
await burst("429s", () => rc.inject429(20, 200));
await burst("lost-answers", () => rc.loseReplies(20));

await app.stop();
await rc.stop();
await st2.stop();
rmSync(dataDir, { recursive: true, force: true });
