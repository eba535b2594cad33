/**
 * st2bot's answer buttons on Slack (Block Kit) and the clicks that come back over Socket Mode as
 * `interactive` envelopes carrying a `block_actions` payload. A choice's token is its button
 * `value` or its option `value`; Slack hands it back only over the app's own authenticated
 * socket, together with the clicking user.
 */
import * as v from "valibot";
import type { ChatAction } from "../types.ts";
import { escapeText } from "./format.ts";

/** Our actions blocks are known by this prefix of their `block_id` (a pack's own blocks are left alone). */
const BLOCK_PREFIX = "st2bot_actions";
/** Slack's limit for a section's text. */
const SECTION_TEXT = 3000;

/** A Block Kit plain-text object. */
const plain = (text: string) => ({ type: "plain_text", text, emoji: true });

/** The actions blocks for `actions`, one per control. */
export function actionBlocks(actions: ChatAction[]): Record<string, unknown>[] {
  return actions.map((a, i) => {
    const elements =
      a.kind === "select"
        ? [{ type: "static_select", action_id: `st2bot_select_${i}`, placeholder: plain(a.placeholder), options: a.choices.map((c) => ({ text: plain(c.label), value: c.token })) }]
        : a.choices.map((c, j) => ({ type: "button", action_id: `st2bot_choice_${i}_${j}`, text: plain(c.label), value: c.token, ...(c.style ? { style: c.style } : {}) }));
    return { type: "actions", block_id: `${BLOCK_PREFIX}_${i}`, elements };
  });
}

/**
 * chat.postMessage arguments with the controls added. Blocks replace `text` on screen (it stays
 * the notification fallback), so the text goes into sections first, unless the pack sent blocks.
 */
export function withActions(args: Record<string, unknown>, actions: ChatAction[] | undefined): Record<string, unknown> {
  if (!actions?.length) return args;
  const own = Array.isArray(args.blocks) ? (args.blocks as Record<string, unknown>[]) : undefined;
  const text = typeof args.text === "string" ? args.text : "";
  const sections = [];
  for (let i = 0; i < text.length; i += SECTION_TEXT) sections.push({ type: "section", text: { type: "mrkdwn", text: text.slice(i, i + SECTION_TEXT) } });
  return { ...args, blocks: [...(own ?? sections), ...actionBlocks(actions)] };
}

/**
 * The blocks of an answered message: ours without its controls, with `note` in their place
 * (escaped: it names the person who clicked).
 */
export function answeredBlocks(blocks: Record<string, unknown>[], note: string): Record<string, unknown>[] {
  const kept = blocks.filter((b) => !(b.type === "actions" && typeof b.block_id === "string" && b.block_id.startsWith(BLOCK_PREFIX)));
  return [...kept, { type: "context", elements: [{ type: "mrkdwn", text: escapeText(note) }] }];
}

const BlockActionsSchema = v.looseObject({
  type: v.literal("block_actions"),
  user: v.looseObject({ id: v.string() }),
  container: v.looseObject({ message_ts: v.string(), channel_id: v.string() }),
  message: v.optional(v.looseObject({ text: v.optional(v.string()), thread_ts: v.optional(v.string()), blocks: v.optional(v.array(v.record(v.string(), v.unknown()))) })),
  actions: v.pipe(
    v.array(v.looseObject({ value: v.optional(v.string()), selected_option: v.optional(v.nullable(v.looseObject({ value: v.string() }))) })),
    v.minLength(1),
  ),
});

/** One click, read from a `block_actions` payload. */
export interface SlackClick {
  token: string;
  user: string;
  channel: string;
  /** The clicked message. */
  ts: string;
  thread?: string;
  text: string;
  blocks: Record<string, unknown>[];
}

/** The click in an `interactive` envelope's body, or undefined for anything else (other payloads, cleared selects). */
export function readClick(body: unknown): SlackClick | undefined {
  const parsed = v.safeParse(BlockActionsSchema, body);
  if (!parsed.success) return undefined;
  const p = parsed.output;
  const action = p.actions[0]!;
  const token = action.selected_option?.value ?? action.value;
  if (!token) return undefined;
  const click: SlackClick = { token, user: p.user.id, channel: p.container.channel_id, ts: p.container.message_ts, text: p.message?.text ?? "", blocks: p.message?.blocks ?? [] };
  if (p.message?.thread_ts) click.thread = p.message.thread_ts;
  return click;
}
