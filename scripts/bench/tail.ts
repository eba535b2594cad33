/**
 * Live output under load, end to end on loopback: the StackStorm emulator floods the output of
 * several executions at once, each followed live into a Slack channel (Slack emulator) by a whole
 * st2bot (`startApp`). Prints, per run: output pieces and their rate, chat.update calls in all
 * and per execution, the highest number of edits in any one second (the budget is the backend's
 * send rate, Slack's 1/s with bursts of 3), whether every final message ends with the last piece,
 * and the ack latency of ordinary commands in another channel while the flood runs, next to the
 * same latency without it (live output must not hold up other deliveries).
 *
 *   bun scripts/bench/tail.ts [executions=5] [pieces=3000] [interval_s=1]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp } from "../../src/app.ts";
import { BACKEND_SECTIONS } from "../../src/chat/registry.ts";
import { parseConfig } from "../../src/config/load.ts";
import { startEmulator } from "../../src/emulator/index.ts";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { SlackEmulator } from "../../tests/emulators/slack/index.ts";

const EXECUTIONS = Number(process.argv[2] ?? 5);
const PIECES = Number(process.argv[3] ?? 8000);
const INTERVAL_S = Number(process.argv[4] ?? 1);
const KEY = "bench-api-key-0123456789";

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

const slack = SlackEmulator.start();
const pieces = Array.from({ length: PIECES }, (_, i) => `line ${i} ${"z".repeat(60)}\n`);
const st2 = await startEmulator({
  aliases: [...sampleAliases, { name: "flood", pack: "bench", action_ref: "bench.flood", formats: ["flood {{n}}"], extra: { st2bot: { live_output: true } } }],
  actions: [...sampleActions, { ref: "bench.flood", runner: "local-shell-cmd", output: { pieces, intervalMs: 1 } }],
  apiKeys: [KEY],
  completionDelayMs: 5,
});
const dataDir = mkdtempSync(join(tmpdir(), "st2bot-bench-tail-"));
const config = parseConfig(
  `[bot]\nbackend = "slack"\ndata_dir = ${JSON.stringify(dataDir)}\nlog_level = "error"\n[web]\nenabled = false\n` +
    `[stackstorm]\napi_url = "${st2.apiUrl}"\nauth_url = "${st2.authUrl}"\nstream_url = "${st2.streamUrl}"\nlive_output_interval = ${INTERVAL_S}\n` +
    `[stackstorm.api_auth]\napikey = "${KEY}"\n[slack]\nbot_token = "${slack.botToken}"\napp_token = "${slack.appToken}"\napi_url = "${slack.apiUrl}"\n`,
  "<bench>",
  {},
  BACKEND_SECTIONS,
);
const app = await startApp({ config });
while (app.backend.status().state !== "connected" || !app.aliases.loaded) await Bun.sleep(5);

/** Ack latency of `!st2 run uptime on web1` in #general, `n` times one after another. */
async function acks(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const before = slack.received.length;
    const start = performance.now();
    slack.postUserMessage({ user: "U0ALICE", channel: "C0GENERAL", text: `!st2 run uptime-${i} on web1` });
    while (!slack.received.slice(before).some((p) => p.channel === "C0GENERAL" && p.text?.startsWith("Running"))) await Bun.sleep(1);
    out.push(performance.now() - start);
    await Bun.sleep(2200); // ack + result: two messages under Slack's 1/s per channel; measure the bot, not the outbox's wait
  }
  return out;
}

const quiet = await acks(5);
console.log(`ack latency in #general, nothing followed: p50 ${fmt(pct(quiet, 50))}  max ${fmt(Math.max(...quiet))}`);

const t0 = performance.now();
for (let i = 0; i < EXECUTIONS; i++) slack.postUserMessage({ user: "U0ALICE", channel: "C0OPS", text: `!st2 flood ${i}` });
const during = acks(5);
const closings = () => slack.received.filter((p) => p.channel === "C0OPS" && p.text?.startsWith("✅ bench.flood"));
while (closings().length < EXECUTIONS) await Bun.sleep(20);
const secs = (performance.now() - t0) / 1000;
const busy = await during;

const updates = slack.calls.filter((c) => c.method === "chat.update" && c.status === 200);
const perSecond = new Map<number, number>();
for (const u of updates) perSecond.set(Math.floor(u.at / 1000), (perSecond.get(Math.floor(u.at / 1000)) ?? 0) + 1);
const lives = slack.received.filter((p) => p.channel === "C0OPS" && /^(⏳|✅) bench\.flood [0-9a-f]+: \w+\n```/.test(p.text ?? ""));
const complete = lives.filter((p) => p.text!.includes(`line ${PIECES - 1} `)).length;
console.log(`${EXECUTIONS} executions × ${PIECES} pieces (${((EXECUTIONS * PIECES) / secs).toFixed(0)} pieces/s over ${secs.toFixed(1)} s), live_output_interval ${INTERVAL_S} s:`);
console.log(`  chat.update calls ${updates.length} (${(updates.length / EXECUTIONS).toFixed(1)} per execution), at most ${Math.max(0, ...perSecond.values())} in one second; 429s ${slack.calls.filter((c) => c.status === 429).length}`);
console.log(`  live messages ${lives.length}, ending with the last piece: ${complete}/${EXECUTIONS}; closing lines ${closings().length}`);
console.log(`ack latency in #general during the flood: p50 ${fmt(pct(busy, 50))}  max ${fmt(Math.max(...busy))}`);

await app.stop();
await st2.stop();
await slack.stop();
rmSync(dataDir, { recursive: true, force: true });
