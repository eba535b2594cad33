/**
 * The one contract every chat backend passes (Hono's shared router cases): each backend's test
 * file calls `runBackendContract` with a harness that drives the real service (or its
 * wire-level emulator) from the outside, as a person would.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ChatBackend, Message } from "../../src/chat/types.ts";
import { SendError } from "../../src/lib/errors.ts";
import { waitFor } from "../support/wait.ts";

/** What the service received from the bot, normalized for assertions. */
export interface Delivered {
  /** Room name/id or user the service saw the message addressed to (harness-specific but stable). */
  to: string;
  thread?: string;
  text: string;
  /** The native rich payload (Slack attachments/blocks, Mattermost props, XHTML-IM), if any. */
  rich?: unknown;
}

export interface BackendHarness {
  /** A backend configured against the service, not yet started. */
  backend: ChatBackend;
  /** A person (not the bot) posts `text` in `room`, or in a DM with the bot when room is undefined. */
  userSays(text: string, where: { room?: string; thread?: string }): Promise<void>;
  /** Everything the service received from the bot so far, in order. */
  delivered(): Delivered[];
  /** A room the bot is in, as StackStorm would name it in an announcement's `channel`. */
  room: { st2Name: string; deliveredTo: string };
  /** The person of `userSays`, as StackStorm would name them in an announcement's `user`. */
  user: { st2Name: string; deliveredTo: string };
  /** The service drops the bot's connection (server restart, socket closed); absent when there is none (the terminal). */
  dropConnection?(): Promise<void>;
  /**
   * From now on and for `ms`, the service takes nothing from the bot (a reader that stops reading,
   * a frozen server, answers held back), then carries on and takes what waited.
   */
  stall(ms: number): Promise<void>;
  /** False where every name is a valid place (the terminal): the unknown-target case does not apply. */
  hasUnknownTargets?: boolean;
  teardown(): Promise<void>;
}

/** A harness's `stall` for an emulator that can delay its answers: slow for `ms`, then normal again. */
export const stallBy = (emu: { slow(ms: number): void }) => async (ms: number): Promise<void> => {
  emu.slow(ms);
  setTimeout(() => emu.slow(0), ms);
};

/**
 * For one describe block: the backend `make` builds (an emulator may start with it) is started
 * before its tests, its messages collected in `inbox`, and stopped after them, then `teardown`
 * runs (the emulator's stop). `ready` may wait for more than `start` (e.g. "connected").
 * `next(text)` waits for the first message containing `text`.
 */
export function startedBackend(make: () => ChatBackend, teardown: () => unknown, ready?: (bot: ChatBackend) => Promise<unknown>) {
  const inbox: Message[] = [];
  let bot: ChatBackend | undefined;
  beforeAll(async () => {
    bot = make();
    await bot.start((m) => void inbox.push(m));
    await ready?.(bot);
  });
  afterAll(async () => {
    await bot?.stop();
    await teardown();
  });
  return { inbox, next: (text: string) => waitFor(`message "${text}"`, () => inbox.find((m) => m.text.includes(text))) };
}

/** Runs the shared cases against the backend `setup` drives. */
export function runBackendContract(name: string, setup: () => Promise<BackendHarness>): void {
  describe(`${name} backend contract`, () => {
    let h: BackendHarness;
    const inbox: Message[] = [];
    const nextMessage = (text: string) => waitFor(`message "${text}"`, () => inbox.find((m) => m.text.includes(text)));

    beforeAll(async () => {
      h = await setup();
      await h.backend.start((m) => {
        inbox.push(m);
      });
      await waitFor("connected", () => (h.backend.status().state === "connected" ? true : undefined));
    });
    afterAll(async () => {
      await h.backend.stop();
      await h.teardown();
    });

    test("receives a room message with who sent it and where", async () => {
      await h.userSays("!st2 room hello", { room: h.room.st2Name });
      const m = await nextMessage("room hello");
      expect(m.direct).toBe(false);
      expect(m.room).toBeDefined();
      expect(m.from.aclId.length).toBeGreaterThan(0);
      expect(m.from.st2User.length).toBeGreaterThan(0);
      expect(h.backend.sourceChannel(m).length).toBeGreaterThan(0);
    });

    test("receives a direct message", async () => {
      await h.userSays("!st2 direct hello", {});
      const m = await nextMessage("direct hello");
      expect(m.direct).toBe(true);
      expect(m.room).toBeUndefined();
    });

    test("replies land where the message was asked", async () => {
      const m = await nextMessage("room hello");
      await h.backend.send(h.backend.replyTarget(m), { text: "reply in room ✓ — ünïcode 日本" });
      const d = await waitFor("room reply", () => h.delivered().find((x) => x.text.includes("reply in room")));
      expect(d.to).toBe(h.room.deliveredTo);
      expect(d.text).toContain("ünïcode 日本");
    });

    test("resolves StackStorm's channel and user strings to real targets", async () => {
      await h.backend.send(await h.backend.resolve("channel", h.room.st2Name), { text: "to the channel" });
      await h.backend.send(await h.backend.resolve("user", h.user.st2Name), { text: "to the user" });
      const c = await waitFor("channel send", () => h.delivered().find((x) => x.text === "to the channel"));
      const u = await waitFor("user send", () => h.delivered().find((x) => x.text === "to the user"));
      expect(c.to).toBe(h.room.deliveredTo);
      expect(u.to).toBe(h.user.deliveredTo);
    });

    test("an unknown target is a loud, non-retryable error", async () => {
      if (h.hasUnknownTargets === false) return;
      const attempt = async () => {
        const t = await h.backend.resolve("channel", "no-such-channel-4711");
        await h.backend.send(t, { text: "lost?" });
      };
      const err = await attempt().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(SendError);
      expect((err as SendError).retryable).toBe(false);
    });

    test("post and edit come together; a posted message's reference can be edited", async () => {
      const backend = h.backend;
      expect(typeof backend.post).toBe(typeof backend.edit);
      if (!backend.post || !backend.edit) return; // no edits: live output is a sequence of messages
      const m = await nextMessage("room hello");
      const ref = await backend.post(backend.replyTarget(m), { text: "live output v1" });
      expect(ref.room.length).toBeGreaterThan(0);
      expect(ref.id.length).toBeGreaterThan(0);
      await backend.edit(ref, { text: "live output v2" });
      await waitFor("the post", () => h.delivered().find((x) => x.text.includes("live output v")));
    });

    test("has a message size limit and addressable names", () => {
      expect(h.backend.maxMessageLength).toBeGreaterThan(100);
      expect(h.backend.botNames().length).toBeGreaterThan(0);
    });

    test("a send resolves only once the service accepted the message, never on a write alone", async () => {
      const target = await h.backend.resolve("channel", h.room.st2Name);
      await h.stall(1_500);
      let settled = false;
      const sending = h.backend.send(target, { text: "held while stalled" }).finally(() => (settled = true));
      await Bun.sleep(700);
      // Still stalled: nothing confirmed it, so the outbox must keep the message.
      expect(settled).toBe(false);
      await sending;
      await waitFor("the held message", () => h.delivered().find((x) => x.text === "held while stalled"));
    }, 20_000);

    test("sendMany, where the backend has it: in order, confirmed only once the service took them all", async () => {
      const backend = h.backend;
      if (!backend.sendMany) return; // one message at a time: the outbox uses send
      const target = await backend.resolve("channel", h.room.st2Name);
      await h.stall(1_500);
      let settled = false;
      const msgs = [1, 2, 3].map((i) => ({ text: `batch part ${i}`, id: `contract.${i}` }));
      const sending = backend.sendMany(target, msgs).finally(() => (settled = true));
      await Bun.sleep(700);
      expect(settled).toBe(false);
      await sending;
      const got = await waitFor("the batch", () => {
        const d = h.delivered().filter((x) => x.text.startsWith("batch part "));
        return d.length >= 3 ? d : undefined;
      });
      expect(got.map((d) => d.text)).toEqual(["batch part 1", "batch part 2", "batch part 3"]);
      for (const d of got) expect(d.to).toBe(h.room.deliveredTo);
    }, 20_000);

    test("reconnects by itself after the connection drops", async () => {
      if (!h.dropConnection) return;
      await h.dropConnection();
      // The drop may be noticed late; keep speaking until a message gets through again.
      const deadline = Date.now() + 25_000;
      for (let i = 0; ; i++) {
        await h.userSays(`!st2 after reconnect ${i}`, { room: h.room.st2Name }).catch(() => undefined);
        const seen = await waitFor("reconnect", () => inbox.find((m) => m.text.includes(`after reconnect ${i}`)), 1_500).catch(() => undefined);
        if (seen) break;
        if (Date.now() > deadline) throw new Error("no message received after the connection dropped");
      }
      expect(h.backend.status().state).toBe("connected");
    }, 30_000);
  });
}
