/**
 * A credential StackStorm rejects: chat users are told the truth (StackStorm refused the bot's
 * credential; an administrator must fix it), and the log says so once per change of state,
 * with the remedy, instead of at every retry.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { captureLogs } from "../../src/lib/log.ts";
import { startBot, type BotHarness } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";

let h: BotHarness;
const lines: string[] = [];
let restore: () => void;
const before = process.env.ST2BOT_LOG_LEVEL;
beforeAll(async () => {
  restore = captureLogs((l) => lines.push(l), "warn");
  process.env.ST2BOT_LOG_LEVEL = "warn";
  h = await startBot({ emulator: { aliases: sampleAliases, actions: sampleActions }, auth: '[stackstorm.api_auth]\napikey = "revoked-key-0123456789"' });
});
afterAll(async () => {
  await h.stop();
  restore();
  if (before === undefined) delete process.env.ST2BOT_LOG_LEVEL;
  else process.env.ST2BOT_LOG_LEVEL = before;
});

test("chat users are told StackStorm refused the bot's credential and an administrator must fix it", async () => {
  await h.say("!st2 run uptime on web1", { room: "ops" });
  const reply = await h.next((m) => m.target.kind === "room", "reply");
  expect(reply.text).toContain("StackStorm refused st2bot's own credential");
  expect(reply.text).toContain("an administrator");
  expect(reply.text).not.toContain("keep trying");
  await h.say("!st2help", { room: "ops" });
  expect((await h.next((m) => m.target.kind === "room", "help reply")).text).toContain("StackStorm refused st2bot's own credential");
});

test("the log says it once, with the remedy, however often st2bot retries", async () => {
  for (let i = 0; i < 3; i++) {
    await h.app.aliases.refresh();
    await h.app.client.recheck();
  }
  // The stream retries too (401 → backoff → 401 ...).
  await waitFor("a few stream retries", () => h.emulator.requests.filter((r) => r.path.endsWith("/stream")).length >= 3, 15_000);
  const warnings = lines.filter((l) => / (WARN|ERROR) /.test(l)).map((l) => l.slice(l.indexOf(" ") + 1));
  // Before: 19 lines here (the provider at every 401, the alias cache at every load, the stream at every retry).
  const errors = warnings.filter((l) => l.startsWith("ERROR"));
  expect(errors.length).toBe(1);
  // The stream says once that it was refused, not at every reconnect.
  expect(warnings.filter((l) => l.includes("st2.stream")).length).toBeLessThanOrEqual(1);
  expect(warnings.length).toBeLessThanOrEqual(2);
  expect(errors[0]).toContain("StackStorm refused the bot's api key …6789");
  expect(errors[0]).toContain("replace stackstorm.api_auth.apikey (or ST2_API_KEY)");
  expect(lines.join("\n")).not.toContain("revoked-key-0123456789");
});
