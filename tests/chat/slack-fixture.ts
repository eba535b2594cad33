/**
 * The Slack tests' fixture: the emulated workspace's people and places, a backend configured
 * against it, and `workspace()`, a running emulator and started backend for one describe block.
 */
import { afterAll, beforeAll } from "bun:test";
import { createSlackBackend, type SlackDeps } from "../../src/chat/slack/index.ts";
import type { ChatBackend, Message } from "../../src/chat/types.ts";
import { parseConfig } from "../../src/config/load.ts";
import { BACKEND_SECTIONS } from "../../src/chat/registry.ts";
import { Backoff } from "../../src/lib/backoff.ts";
import { type PostedMessage, SlackEmulator, type SlackEmulatorOptions } from "../emulators/slack/index.ts";
import type { Delivered } from "./contract.ts";
import { waitFor } from "../support/wait.ts";

/** A person in the default workspace, and its #general channel. */
export const ALICE = "U0ALICE";
export const GENERAL = "C0GENERAL";

/** A config whose `[slack]` points at `emu` (its tokens unless others are given). */
export function slackConfig(emu: SlackEmulator, tokens: { bot?: string; app?: string } = {}) {
  const toml = [
    "[bot]",
    'backend = "slack"',
    "[slack]",
    `bot_token = "${tokens.bot ?? emu.botToken}"`,
    `app_token = "${tokens.app ?? emu.appToken}"`,
    `api_url = "${emu.apiUrl}"`,
  ].join("\n");
  return parseConfig(toml, "<slack test>", {}, BACKEND_SECTIONS);
}

/** A Slack backend against `emu` with a fast backoff. */
export function newBackend(emu: SlackEmulator, deps: SlackDeps = {}, tokens?: { bot?: string; app?: string }): ChatBackend {
  return createSlackBackend(slackConfig(emu, tokens), { backoff: new Backoff({ initialMs: 50, maxMs: 400 }), ...deps });
}

/** The rejection of `p`, or undefined when it resolves. */
export const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

/** A posted message in the contract's terms. */
export function toDelivered(p: PostedMessage): Delivered {
  const d: Delivered = { to: p.channel, text: p.text ?? String(p.attachments?.[0]?.text ?? "") };
  if (p.thread_ts) d.thread = p.thread_ts;
  if (p.attachments || p.blocks) d.rich = { attachments: p.attachments, blocks: p.blocks };
  return d;
}

/** A running emulator + started backend with an inbox, shared by one describe block. */
export function workspace(emuOpts: SlackEmulatorOptions = {}, deps: SlackDeps = {}) {
  const ctx = {} as { emu: SlackEmulator; backend: ChatBackend; inbox: Message[] };
  beforeAll(async () => {
    ctx.emu = SlackEmulator.start(emuOpts);
    ctx.backend = newBackend(ctx.emu, deps);
    ctx.inbox = [];
    await ctx.backend.start((m) => {
      ctx.inbox.push(m);
    });
    await waitFor("connected", () => ctx.backend.status().state === "connected");
  });
  afterAll(async () => {
    await ctx.backend.stop();
    await ctx.emu.stop();
  });
  /** A person speaks; resolves with the message the backend delivered for it. */
  const say = async (text: string, where: { channel?: string; thread_ts?: string; user?: string } = {}) => {
    ctx.emu.postUserMessage({ user: where.user ?? ALICE, text, ...(where.channel ? { channel: where.channel } : {}), ...(where.thread_ts ? { thread_ts: where.thread_ts } : {}) });
    return waitFor(`message "${text}"`, () => ctx.inbox.find((m) => (m.raw as { text?: string }).text === text));
  };
  /**
   * Events are handled in arrival order, so once a later marker is delivered, anything emitted
   * before it that was going to be delivered already has been.
   */
  const settle = async () => {
    const marker = `marker ${crypto.randomUUID()}`;
    await say(marker, { channel: GENERAL });
  };
  const lastPost = () => ctx.emu.received[ctx.emu.received.length - 1]!;
  return { ctx, say, settle, lastPost };
}
