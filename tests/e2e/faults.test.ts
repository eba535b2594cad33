/** st2bot survives StackStorm's failures: down at start, dropped streams, expiring tokens. */
import { describe, expect, test } from "bun:test";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { assertNoViolations, startTestEmulator } from "../support/emulator.ts";
import { API_KEY, withBot } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";

const emulatorOpts = { aliases: sampleAliases, actions: sampleActions, apiKeys: [API_KEY], completionDelayMs: 5, users: { st2admin: "Ch@ngeMe", bot: "b0t-pass" } };

describe("StackStorm failures", () => {
  test("StackStorm down at start: st2bot starts, says so, and recovers when it comes back", async () => {
    const emulator = await startTestEmulator(emulatorOpts);
    await emulator.faults.down(true);
    try {
      await withBot({ useEmulator: emulator }, async (h) => {
        expect(h.app.aliases.loaded).toBe(false);
        await h.say("!st2 packs list", { room: "ops" });
        expect((await h.next(() => true, "not loaded")).text).toStartWith("I could not load the action aliases from StackStorm yet");
        await emulator.faults.down(false);
        await waitFor("aliases loaded after StackStorm came back", () => h.app.aliases.loaded, 20_000);
        await h.say("!st2 packs list", { room: "ops" });
        await h.next((m) => m.text.startsWith("Looking up your packs"), "ack after recovery");
        await h.next((m) => m.text.includes("completed"), "result after recovery");
        assertNoViolations(emulator);
      });
    } finally {
      await emulator.stop();
    }
  }, 30_000);

  test("StackStorm unreachable mid-conversation: a plain-language error", async () => {
    await withBot({ emulator: emulatorOpts }, async (h) => {
      await h.emulator.faults.down(true);
      await h.say("!st2 packs list", { room: "ops" });
      expect((await h.next(() => true, "unreachable")).text).toStartWith("StackStorm is unreachable right now");
      await h.emulator.faults.down(false);
    });
  });

  test("the stream dropped: reconnects and results still arrive", async () => {
    await withBot({ emulator: emulatorOpts }, async (h) => {
      await waitFor("stream open", () => h.app.streamState().state === "open");
      h.emulator.faults.dropStreams();
      await waitFor("stream reconnected", () => h.app.streamState().state === "open" && h.emulator.streamCount > 0, 10_000);
      await h.say("!st2 packs list", { room: "ops" });
      await h.next((m) => m.text.includes("completed"), "result after reconnect");
    });
  });

  test("token expiring mid-stream with a username/password: re-authenticates and carries on", async () => {
    await withBot({ emulator: emulatorOpts, auth: '[stackstorm.api_auth.user]\nname = "bot"\npassword = "b0t-pass"' }, async (h) => {
      await waitFor("stream open", () => h.app.streamState().state === "open");
      const tokensBefore = h.emulator.tokens.length;
      h.emulator.faults.expireTokens();
      h.emulator.faults.dropStreams();
      await waitFor("new token issued", () => h.emulator.tokens.length > tokensBefore, 10_000);
      await waitFor("stream open again", () => h.app.streamState().state === "open" && h.emulator.streamCount > 0, 10_000);
      await h.say("!st2 packs list", { room: "ops" });
      await h.next((m) => m.text.startsWith("Looking up your packs"), "ack with the renewed token");
      await h.next((m) => m.text.includes("completed"), "result with the renewed token");
      assertNoViolations(h.emulator);
    });
  });

  test("a corrupt stream event is skipped; the next one is delivered", async () => {
    await withBot({ emulator: emulatorOpts }, async (h) => {
      await waitFor("stream open", () => h.app.streamState().state === "open");
      h.emulator.faults.streamGarbage('event: st2.announcement__errbot\ndata: {"payload": {"message": "trunc\n\n');
      h.emulator.publish("st2.announcement__errbot", { nopayload: true });
      h.emulator.announce("errbot", { message: "still flowing", channel: "#ops" });
      expect((await h.next((m) => m.text === "still flowing", "good event")).target).toMatchObject({ kind: "room", id: "ops" });
    });
  });
});

describe("chat service failures", () => {
  test("sends failing for a while: every result still arrives, in order per room", async () => {
    await withBot({ emulator: emulatorOpts, toml: "[outbox]\nmax_retry_delay_seconds = 1" }, async (h) => {
      await waitFor("stream open", () => h.app.streamState().state === "open");
      h.backend.failFor(1500);
      for (let i = 0; i < 30; i++) h.emulator.announce("errbot", { message: `during outage ${i}`, channel: `#room${i % 3}` });
      await waitFor("all delivered", () => h.backend.sent.filter((m) => m.text.startsWith("during outage")).length === 30, 20_000);
      for (const room of ["room0", "room1", "room2"]) {
        const order = h.backend.sent.filter((m) => m.target.id === room).map((m) => Number(m.text.split(" ").pop()));
        expect(order).toEqual([...order].sort((a, b) => a - b));
      }
      expect(h.app.outbox.stats().dead).toBe(0);
    });
  }, 30_000);

  test("a rate-limited send waits out its Retry-After; other rooms are not held up", async () => {
    await withBot({ emulator: emulatorOpts }, async (h) => {
      await waitFor("stream open", () => h.app.streamState().state === "open");
      h.backend.failNext(1, { kind: "error", retryable: true, retryAfterMs: 800 });
      h.emulator.announce("errbot", { message: "rate limited first", channel: "#slow" });
      h.emulator.announce("errbot", { message: "other room", channel: "#fast" });
      const fast = await h.next((m) => m.text === "other room", "the other room");
      const slow = await h.next((m) => m.text === "rate limited first", "the retried one");
      expect(slow.at - fast.at).toBeGreaterThanOrEqual(500);
    });
  });
});

describe("a stream dropped in the middle of a burst", () => {
  test("everything StackStorm published before the drop and after the reconnect arrives, once", async () => {
    await withBot({ emulator: emulatorOpts }, async (h) => {
      await waitFor("stream open", () => h.app.streamState().state === "open");
      for (let i = 0; i < 150; i++) h.emulator.announce("errbot", { message: `burst ${i}`, channel: `#b${i % 5}` });
      h.emulator.faults.dropStreams();
      await waitFor("reconnected", () => h.app.streamState().state === "open" && h.emulator.streamCount > 0, 10_000);
      for (let i = 150; i < 300; i++) h.emulator.announce("errbot", { message: `burst ${i}`, channel: `#b${i % 5}` });
      await waitFor("all 300", () => new Set(h.backend.sent.filter((m) => m.text.startsWith("burst ")).map((m) => m.text)).size === 300, 15_000);
      const texts = h.backend.sent.filter((m) => m.text.startsWith("burst ")).map((m) => m.text);
      expect(texts.length).toBe(300);
    });
  });
});
