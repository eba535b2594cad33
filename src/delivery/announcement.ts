/**
 * The announcement: what StackStorm's `chatops.post_message` publishes on the stream
 * (`st2.announcement__<route>`, data `{"payload": {...}}`) and what err-stackstorm's webhook
 * accepts (`channel`, `message`, `user`, `whisper`, `extra`). Both enter the outbox as one
 * `Announcement`, validated here with valibot.
 */
import * as v from "valibot";
import type { ActionRequest } from "../chat/types.ts";
import { asThreadId, sourceThread } from "../chat/thread.ts";
import { isRecord } from "../lib/json.ts";

// A JSON object (not an array); `null` is read as absent (StackStorm sends `null` for unset fields).
const looseObject = v.nullish(v.custom<Record<string, unknown>>(isRecord));
const looseString = v.nullish(v.string());

/**
 * The announcement fields. Unknown keys are ignored (StackStorm and older clients add their own);
 * `null` is accepted for every optional field and read as absent.
 */
export const AnnouncementSchema = v.object({
  message: v.string(),
  channel: looseString,
  user: looseString,
  whisper: v.nullish(v.boolean()),
  context: looseObject,
  extra: looseObject,
});

export interface Announcement {
  message: string;
  channel?: string;
  user?: string;
  whisper?: boolean;
  /** StackStorm's notify `source_context`, echoed back: where a thread id travels. */
  context?: Record<string, unknown>;
  /** Adapter-specific rich formatting (`extra.slack`, `extra.mattermost`, `extra.color`). */
  extra?: Record<string, unknown>;
  /**
   * The message carries a secret (a one-time login link): the outbox stores its text sealed,
   * never in clear. Set only by st2bot itself; the schema above drops it from outside input.
   */
  secret?: boolean;
  /**
   * Controls to show under the message (inquiry answers), tokens not yet issued: the outbox
   * issues them at send time. Set only by st2bot itself; the schema above drops it from outside.
   */
  actions?: ActionRequest[];
}

export type ParseResult = { ok: true; value: Announcement } | { ok: false; error: string };

const typeNames: Record<string, string> = {
  string: "a string",
  boolean: "a boolean",
  /** The only custom schema: a JSON object (not an array) where `context`/`extra` belong. */
  custom: "an object",
};

/** One plain sentence naming the first bad field, e.g. `"whisper" must be a boolean`. */
function describe(issues: [v.BaseIssue<unknown>, ...v.BaseIssue<unknown>[]]): string {
  const issue = issues[0];
  const key = issue.path?.[0]?.key;
  if (key === undefined) return "the announcement must be a JSON object";
  const field = `"${String(key)}"`;
  if (issue.input === undefined) return `${field} is required`;
  const expected = typeNames[issue.type] ?? issue.expected ?? issue.type;
  return `${field} must be ${expected}`;
}

/** Deeper `extra`/`context` is no chat formatting anyone writes; refusing it keeps every later step safe from stack exhaustion. */
const MAX_DEPTH = 64;

/** Nesting depth of a JSON value, without recursion (the input may be hostile). */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== "object" || node === null) continue;
    if (depth > max) max = depth;
    if (max > MAX_DEPTH) return max;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return max;
}

const nullishString = (x: unknown) => x === undefined || x === null || typeof x === "string";
const nullishObject = (x: unknown) => x === undefined || x === null || isRecord(x);

/**
 * Whether `AnnouncementSchema` accepts `data`, checked by hand: the same rules, without
 * valibot's issue bookkeeping and output copy, which cost more than the rest of a stream
 * announcement's way to the outbox. Anything else goes through the schema for its error text.
 */
function plainShape(data: Record<string, unknown>): boolean {
  const whisper = data.whisper;
  return typeof data.message === "string" && nullishString(data.channel) && nullishString(data.user) &&
    (whisper === undefined || whisper === null || typeof whisper === "boolean") && nullishObject(data.context) && nullishObject(data.extra);
}

/**
 * Validates an announcement body (webhook body or stream `payload`). The message must not be
 * blank: chat services reject empty messages, so it is refused here where the sender still
 * hears about it.
 */
export function parseAnnouncement(data: unknown): ParseResult {
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return { ok: false, error: "the announcement must be a JSON object" };
  }
  let raw: v.InferOutput<typeof AnnouncementSchema>;
  if (plainShape(data as Record<string, unknown>)) raw = data as typeof raw;
  else {
    const result = v.safeParse(AnnouncementSchema, data);
    if (!result.success) return { ok: false, error: describe(result.issues) };
    raw = result.output;
  }
  if (raw.message.trim() === "") return { ok: false, error: `"message" must not be empty` };
  for (const key of ["context", "extra"] as const) {
    if (raw[key] && depthOf(raw[key]) > MAX_DEPTH) return { ok: false, error: `"${key}" is nested more than ${MAX_DEPTH} levels deep` };
  }
  const value: Announcement = { message: raw.message };
  if (raw.channel) value.channel = raw.channel;
  if (raw.user) value.user = raw.user;
  if (raw.whisper) value.whisper = true;
  if (raw.context) value.context = raw.context;
  if (raw.extra) value.extra = raw.extra;
  return { ok: true, value };
}

/**
 * Reads the data of an `st2.announcement__*` stream event, `{"payload": {...}}`, as parsed JSON
 * or as the raw event text. Never throws: a bad event yields `{ok: false, error}` for the log.
 */
export function parseStreamAnnouncement(data: unknown): ParseResult {
  let event = data;
  if (typeof event === "string") {
    try {
      event = JSON.parse(event);
    } catch {
      return { ok: false, error: "the announcement event is not valid JSON" };
    }
  }
  if (typeof event !== "object" || event === null || Array.isArray(event)) {
    return { ok: false, error: "the announcement event must be a JSON object" };
  }
  const payload = (event as { payload?: unknown }).payload;
  if (payload === undefined || payload === null) return { ok: false, error: `"payload" is required` };
  const parsed = parseAnnouncement(payload);
  return parsed.ok ? parsed : { ok: false, error: `payload: ${parsed.error}` };
}

/** Where an announcement goes: `kind` says how to resolve `value` on the chat service. */
export interface AnnouncementTarget {
  kind: "user" | "channel";
  value: string;
}

/**
 * The delivery rule both existing bridges follow: `whisper` with a `user` → that user directly;
 * otherwise the `channel`; otherwise the `user`. Neither → undefined (the announcement is invalid).
 */
export function targetOf(a: Announcement): AnnouncementTarget | undefined {
  if (a.whisper && a.user) return { kind: "user", value: a.user };
  if (a.channel) return { kind: "channel", value: a.channel };
  if (a.user) return { kind: "user", value: a.user };
  return undefined;
}

/** The outbox's ordering key for a target, e.g. `user:alice`, `channel:#ops`. */
export function targetKey(t: AnnouncementTarget): string {
  return `${t.kind}:${t.value}`;
}

/**
 * The thread a room message belongs in, from what the bot put in `source_context` when the
 * command ran: `context.thread` or `context.thread_ts`; with `extra.slack.thread_response`
 * (hubot-stackstorm's switch) the original message's `context.ts` starts the thread.
 */
export function threadOf(a: Announcement): string | undefined {
  const ctx = a.context;
  if (!ctx) return undefined;
  const direct = sourceThread(ctx);
  if (direct) return direct;
  const slack = a.extra?.slack;
  const threadResponse = isRecord(slack) && slack.thread_response;
  return threadResponse ? asThreadId(ctx.ts) ?? asThreadId(ctx.message_ts) : undefined;
}
