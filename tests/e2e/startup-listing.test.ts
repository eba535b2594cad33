/**
 * Start-up lists StackStorm's aliases once: the stream opens concurrently with that listing,
 * and its first connect does not list them all again. A reconnect (events of the gap are gone)
 * still re-syncs.
 */
import { afterEach, expect, test } from "bun:test";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { startBot, type BotHarness } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";

let bot: BotHarness | undefined;
afterEach(async () => {
  await bot?.stop();
  bot = undefined;
});

const listings = (h: BotHarness) => h.emulator.requests.filter((r) => r.method === "GET" && r.path === "/api/v1/actionalias").length;

test("one alias listing at start, the stream open; a reconnect lists again", async () => {
  bot = await startBot({ emulator: { aliases: sampleAliases, actions: sampleActions } });
  const h = bot;
  await waitFor("the stream", () => h.emulator.streamCount > 0);
  // Whatever the first connect would trigger has had time to happen.
  await Bun.sleep(300);
  expect(listings(h)).toBe(1);
  expect(h.app.aliases.index.size).toBe(sampleAliases.length);

  h.emulator.faults.dropStreams();
  await waitFor("the stream again", () => h.emulator.streamCount > 0 && listings(h) === 2, 10_000);
  expect(listings(h)).toBe(2);
});
