/**
 * The Slack backend's sends that fail, its Socket Mode connection (acks, drops, Slack's
 * disconnect message, reconnects) and its lifecycle and configuration, against the wire-level
 * Slack (tests/emulators/slack/index.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createSlackBackend } from "../../src/chat/slack/index.ts";
import { Backoff } from "../../src/lib/backoff.ts";
import { ConfigError, SendError } from "../../src/lib/errors.ts";
import { captureLogs } from "../../src/lib/log.ts";
import { SlackEmulator } from "../emulators/slack/index.ts";
import { waitFor } from "../support/wait.ts";
import { ALICE, GENERAL, slackConfig, newBackend, failure, workspace } from "./slack-fixture.ts";

describe("slack: send failures", () => {
  const { ctx } = workspace();

  test("a 429 is a retryable SendError with Retry-After, and nothing is lost", async () => {
    ctx.emu.rateLimit("chat.postMessage", 1, 1);
    const calls = () => ctx.emu.calls.filter((c) => c.method === "chat.postMessage").length;
    const before = calls();
    const err = await failure(ctx.backend.send({ kind: "room", id: GENERAL }, { text: "rate limited once" }));
    expect(err).toBeInstanceOf(SendError);
    expect(err).toMatchObject({ retryable: true, retryAfterMs: 1000 });
    expect(calls()).toBe(before + 1); // the SDK did not retry by itself
    expect(ctx.emu.received.some((p) => p.text === "rate limited once")).toBe(false);
    await Bun.sleep((err as SendError).retryAfterMs!);
    await ctx.backend.send({ kind: "room", id: GENERAL }, { text: "rate limited once" });
    expect(ctx.emu.received.filter((p) => p.text === "rate limited once")).toHaveLength(1);
  });

  test("a rate-limited lookup is retryable too", async () => {
    ctx.emu.rateLimit("conversations.open", 1, 2);
    const err = await failure(ctx.backend.send({ kind: "user", id: "U0BOB" }, { text: "dm" }));
    expect(err).toMatchObject({ retryable: true, retryAfterMs: 2000 });
  });

  test("channels the bot cannot post in are final", async () => {
    for (const id of ["C0NOPE", "C0RANDOM", "C0SECRET"]) {
      const err = await failure(ctx.backend.send({ kind: "room", id }, { text: "lost?" }));
      expect(err).toBeInstanceOf(SendError);
      expect((err as SendError).retryable).toBe(false);
    }
  });

  test("a timeout is retryable", async () => {
    const impatient = newBackend(ctx.emu, { requestTimeoutMs: 100 });
    ctx.emu.slow(400);
    try {
      const err = await failure(impatient.send({ kind: "room", id: GENERAL }, { text: "slow" }));
      expect(err).toBeInstanceOf(SendError);
      expect((err as SendError).retryable).toBe(true);
    } finally {
      ctx.emu.slow(0);
    }
  });

  test("messages split at Slack's recommended 4,000 characters and go out about once a second", () => {
    expect(ctx.backend.maxMessageLength).toBe(4000);
    expect(ctx.backend.sendRate).toEqual({ perSecond: 1, burst: 3 });
  });
});

describe("slack: connection", () => {
  const { ctx, say } = workspace();

  const reconnectsAfter = async (cut: () => void, label: string) => {
    const opened = ctx.emu.connectionsOpened;
    cut();
    await waitFor("a new link", () => ctx.emu.connectionsOpened > opened && ctx.backend.status().state === "connected");
    const m = await say(`!st2 after ${label}`, { channel: GENERAL });
    expect(m.text).toBe(`!st2 after ${label}`);
  };

  test("reconnects when Slack asks for a refresh", () => reconnectsAfter(() => ctx.emu.disconnect("refresh_requested"), "refresh"));
  test("reconnects after a disconnect warning", () => reconnectsAfter(() => ctx.emu.disconnect("warning"), "warning"));
  test("reconnects after the socket is cut", () => reconnectsAfter(() => ctx.emu.dropSockets(), "drop"));

  test("a message posted while the link is down arrives after the reconnect", async () => {
    ctx.emu.rateLimit("apps.connections.open", 2, 1);
    ctx.emu.dropSockets();
    ctx.emu.postUserMessage({ user: ALICE, channel: GENERAL, text: "!st2 while down" });
    const m = await waitFor("queued message", () => ctx.inbox.find((x) => x.text === "!st2 while down"));
    expect(m.room?.id).toBe(GENERAL);
  });

  test("status says why it is down and recovers", async () => {
    ctx.emu.rateLimit("apps.connections.open", 1000, 1);
    ctx.emu.dropSockets();
    const down = await waitFor("disconnected with a reason", () => {
      const s = ctx.backend.status();
      return s.state === "disconnected" && s.detail?.includes("apps.connections.open") ? s : undefined;
    });
    expect(down.detail).toContain("rate-limited");
    ctx.emu.rateLimit("apps.connections.open", 0, 0);
    await waitFor("connected again", () => ctx.backend.status().state === "connected");
  });

  test("every envelope was acked within Slack's 3 seconds", async () => {
    await waitFor("all acks", () => ctx.emu.missingAcks().length === 0);
    expect(ctx.emu.envelopes.length).toBeGreaterThan(3);
    expect(ctx.emu.lateAckIds()).toEqual([]);
  });
});

describe("slack: lifecycle and configuration", () => {
  let emu: SlackEmulator;
  beforeAll(() => {
    emu = SlackEmulator.start();
  });
  afterAll(() => emu.stop());

  test("status goes from not started to connected to stopped", async () => {
    const backend = newBackend(emu);
    expect(backend.status()).toMatchObject({ state: "disconnected", detail: "not started" });
    await backend.start(() => undefined);
    expect(backend.status().state).toBe("connected");
    await backend.stop();
    expect(backend.status().state).toBe("stopped");
    // Stopped means stopped: a later drop does not bring it back.
    const opened = emu.connectionsOpened;
    emu.dropSockets();
    await Bun.sleep(300);
    expect(emu.connectionsOpened).toBe(opened);
  });

  test("a handler that throws does not stop later messages", async () => {
    const seen: string[] = [];
    const backend = newBackend(emu);
    await backend.start((m) => {
      if (m.text === "boom") throw new Error("handler bug");
      seen.push(m.text);
    });
    try {
      emu.postUserMessage({ user: ALICE, channel: GENERAL, text: "boom" });
      emu.postUserMessage({ user: ALICE, channel: GENERAL, text: "after the boom" });
      await waitFor("the next message", () => seen.includes("after the boom"));
    } finally {
      await backend.stop();
    }
  });

  test("both tokens are required", () => {
    const config = slackConfig(emu);
    expect(() => createSlackBackend({ ...config, slack: { ...(config.slack as object), app_token: undefined } })).toThrow(ConfigError);
  });

  for (const which of ["bot", "app"] as const) {
    test(`a ${which} token Slack refuses fails start with a ConfigError, and never reaches the log`, async () => {
      const secret = `${which === "bot" ? "xoxb" : "xapp"}-wrong-${crypto.randomUUID()}`;
      const lines: string[] = [];
      const restoreLogs = captureLogs((l) => lines.push(l));
      try {
        const backend = newBackend(emu, {}, { [which]: secret });
        const err = await failure(backend.start(() => undefined));
        await backend.stop();
        expect(err).toBeInstanceOf(ConfigError);
        expect(String((err as Error).message)).not.toContain(secret);
      } finally {
        restoreLogs();
      }
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.join("\n")).not.toContain(secret);
    });
  }

  test("a workspace that cannot be reached keeps retrying without throwing", async () => {
    const dead = SlackEmulator.start();
    const config = slackConfig(dead);
    await dead.stop();
    const backend = createSlackBackend(config, { backoff: new Backoff({ initialMs: 20, maxMs: 50 }), requestTimeoutMs: 500 });
    await backend.start(() => undefined);
    expect(backend.status().state).toBe("disconnected");
    expect(backend.status().detail).toContain("could not be reached");
    await backend.stop();
    expect(backend.status().state).toBe("stopped");
  });
});
