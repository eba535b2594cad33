/**
 * Inquiries announced in chat: a workflow that pauses on `core.ask` shows on the stream as an
 * execution of the `inquirer` runner in status `pending`. This module reads such an event,
 * works out where the question came from (the chat place that started the workflow), and
 * writes the chat message that asks it, with the exact command to answer.
 */
import * as v from "valibot";
import type { Config } from "../../config/schema.ts";
import { InquirySchema, type Inquiry } from "../../st2/schemas.ts";
import type { St2Event } from "../../st2/stream.ts";
import type { BotMessage } from "../types.ts";
import { answerExample, describeInquiry, inquiryFields } from "./schema.ts";
import { answerActions } from "./buttons.ts";
import { isRecord } from "../../lib/json.ts";
import { sourceThread } from "../../chat/thread.ts";

/** The stream events an inquiry shows up in (StackStorm has no inquiry-specific event). */
export const INQUIRY_EVENTS = ["st2.execution__create", "st2.execution__update"];


/**
 * Where and what to post (`channel` resolved by the backend like a result's `source_channel`;
 * `user` for a direct message; `context.thread`).
 */
export type InquiryAnnouncement = BotMessage;

/** How the announcement is addressed and worded. */
export interface AnnounceOptions {
  config: Config;
  /**
   * Where to post an inquiry whose chat origin is unknown (started by a rule, the CLI, the
   * web UI). Absent: such inquiries are not announced (`st2inquiries` still lists them).
   */
  defaultChannel?: string;
}

const ExecutionEventSchema = v.looseObject({
  id: v.string(),
  status: v.optional(v.string()),
  runner: v.optional(v.looseObject({ name: v.optional(v.string()) })),
  action: v.optional(v.looseObject({ ref: v.optional(v.string()), runner_type: v.optional(v.string()) })),
  parameters: v.optional(v.record(v.string(), v.unknown())),
  result: v.optional(v.unknown()),
  context: v.optional(v.record(v.string(), v.unknown())),
});
type ExecutionEvent = v.InferOutput<typeof ExecutionEventSchema>;

/** An execution event read as an inquiry: pending, or why it is not one to announce. */
export type InquiryRead =
  | { kind: "pending"; inquiry: Inquiry; execution: ExecutionEvent }
  | { kind: "skip"; why: string; inquiry?: Inquiry; id?: string; status?: string };

/**
 * Reads an `st2.execution__create|update` event: a pending inquiry is an execution of the
 * `inquirer` runner in status `pending`, whose result carries the final `schema`, `users`,
 * `roles`, `route` and `ttl` (its parameters only what the workflow passed). Anything else —
 * other executions, inquiries not yet or no longer pending, malformed data — is a `skip`.
 */
export function readInquiryEvent(event: St2Event): InquiryRead {
  if (!INQUIRY_EVENTS.includes(event.name)) return { kind: "skip", why: `${event.name} is not an execution event` };
  // Every execution's create and updates reach here (several per chat command, right when its
  // ack is due): the usual verdict, "not an inquiry", needs no copy of the whole record.
  return plainNonInquiry(event.data) ?? readBySchema(event);
}

/**
 * `readInquiryEvent` with the schema alone (no shortcut): what the shortcut must agree with
 * (tests/bot/inquiries.test.ts compares them).
 */
export function readBySchema(event: St2Event): InquiryRead {
  const parsed = v.safeParse(ExecutionEventSchema, event.data);
  if (!parsed.success) return { kind: "skip", why: "the event is not an execution record" };
  const ex = parsed.output;
  const runner = ex.runner?.name ?? ex.action?.runner_type;
  if (runner !== "inquirer") return { kind: "skip", why: "not an inquiry", id: ex.id, status: ex.status };
  if (ex.status !== "pending") return { kind: "skip", why: `the inquiry is ${ex.status ?? "of unknown status"}, not pending`, id: ex.id, status: ex.status };
  const result = isRecord(ex.result) ? ex.result : {};
  const inquiry = v.safeParse(InquirySchema, { ...ex.parameters, ...result, id: ex.id });
  if (!inquiry.success) return { kind: "skip", why: "its schema, users, roles, route or ttl are malformed", id: ex.id, status: ex.status };
  return { kind: "pending", inquiry: inquiry.output, execution: ex };
}

/**
 * The "not an inquiry" verdict from plain property reads, given only when the record plainly
 * has the shape `ExecutionEventSchema` accepts; undefined (ask the schema) for a possible
 * inquiry or anything less plain.
 */
function plainNonInquiry(data: unknown): InquiryRead | undefined {
  if (!isRecord(data) || typeof data.id !== "string") return undefined;
  const { status, runner, action } = data;
  if (!optionalString(status) || !optionalRecord(data.parameters) || !optionalRecord(data.context)) return undefined;
  if (runner !== undefined && !(isRecord(runner) && optionalString(runner.name))) return undefined;
  if (action !== undefined && !(isRecord(action) && optionalString(action.ref) && optionalString(action.runner_type))) return undefined;
  const name = (isRecord(runner) ? runner.name : undefined) ?? (isRecord(action) ? action.runner_type : undefined);
  if (name === "inquirer") return undefined;
  return { kind: "skip", why: "not an inquiry", id: data.id, status: status as string | undefined };
}

const optionalString = (x: unknown) => x === undefined || typeof x === "string";
const optionalRecord = (x: unknown) => x === undefined || isRecord(x);

/** The pending inquiry an event shows, if it shows one. */
export function pendingInquiry(event: St2Event): { inquiry: Inquiry; execution: ExecutionEvent } | undefined {
  const read = readInquiryEvent(event);
  return read.kind === "pending" ? read : undefined;
}

/** Where the workflow that asked came from, read from the inquiry execution's context chain. */
export interface InquiryOrigin {
  /** The `source_channel` st2bot sent when the workflow was started from chat. */
  channel?: string;
  /** The chat user who started it (`api_user`). */
  user?: string;
  /** A thread id, when a `source_context` with one is found. */
  thread?: string;
  /** The workflow's action ref, when the context names it (ActionChain's and older contexts do). */
  workflow?: string;
  /** The Orquesta task that asked (`context.orquesta.task_name`). */
  task?: string;
}

/** Contexts nest one level per workflow; a bound keeps a hostile event from looping us. */
const MAX_CONTEXT_DEPTH = 32;

/**
 * Walks `context`, `context.parent`, `context.parent.parent`… up to the root. Orquesta copies
 * `source_channel` and `api_user` into each task's context, keeps the workflow's
 * `execution_id`, user and chat fields under `parent` and the task under `orquesta`;
 * ActionChain puts the parent's whole context under `parent`. The outermost values win: they
 * belong to what a person started from chat.
 */
export function inquiryOrigin(context: Record<string, unknown> | undefined): InquiryOrigin {
  const origin: InquiryOrigin = {};
  let ctx: unknown = context;
  for (let depth = 0; isRecord(ctx) && depth < MAX_CONTEXT_DEPTH; depth++) {
    if (nonEmpty(ctx.source_channel)) origin.channel = ctx.source_channel;
    if (nonEmpty(ctx.api_user)) origin.user = ctx.api_user;
    if (nonEmpty(ctx.action)) origin.workflow = ctx.action;
    if (depth === 0 && isRecord(ctx.orquesta) && nonEmpty(ctx.orquesta.task_name)) origin.task = ctx.orquesta.task_name;
    const thread = sourceThread(ctx.source_context);
    if (thread) origin.thread = thread;
    ctx = ctx.parent;
  }
  return origin;
}

/**
 * Where a pending inquiry is announced, in this order, each place once:
 * 1. the chat place that started the workflow (`source_channel`, with its thread), else the
 *    chat user who started it (`api_user`, directly) — whatever the inquiry's `route`;
 * 2. the channel `inquiry_routes` maps the inquiry's `route` to, if any;
 * 3. when neither is known, `defaultChannel` (`inquiry_channel`).
 * Empty when nowhere is known; `why` then says so (for the debug log).
 */
export function inquiryTargets(inquiry: Inquiry, origin: InquiryOrigin, opts: AnnounceOptions): { targets: Target[]; why?: string } {
  const targets: Target[] = [];
  if (origin.channel) targets.push({ channel: origin.channel, ...(origin.thread ? { thread: origin.thread } : {}) });
  else if (origin.user) targets.push({ user: origin.user });
  const routed = inquiry.route ? opts.config.stackstorm.inquiry_routes[inquiry.route] : undefined;
  if (routed && !targets.some((t) => t.channel === routed)) targets.push({ channel: routed });
  if (targets.length === 0 && opts.defaultChannel) targets.push({ channel: opts.defaultChannel });
  if (targets.length) return { targets };
  const route = inquiry.route ? `its route "${inquiry.route}" has no stackstorm.inquiry_routes entry` : "it has no route";
  return { targets, why: `it was not started from chat (no source_channel or api_user), ${route}, and stackstorm.inquiry_channel is not set` };
}

/** One place to announce in: a channel (with its thread) or a chat user directly. */
export interface Target {
  channel?: string;
  thread?: string;
  user?: string;
}

/** What `announceInquiry` decided: the messages to send, or why there are none. */
export type Announcement =
  | { kind: "announce"; inquiry: Inquiry; messages: InquiryAnnouncement[] }
  | { kind: "skip"; why: string; inquiry?: Inquiry };

/**
 * The chat messages for an execution event: one per place of `inquiryTargets` for a pending
 * inquiry, else why not (`skip`). `shown` is the id as chat shows it (see ids.ts); `now` dates
 * the expiry of the answer buttons.
 */
export function announceInquiry(event: St2Event, opts: AnnounceOptions, shown: (id: string) => string = (id) => id, now = Date.now()): Announcement {
  const read = readInquiryEvent(event);
  if (read.kind === "skip") return read;
  const { inquiry, execution } = read;
  const origin = inquiryOrigin(execution.context);
  const { targets, why } = inquiryTargets(inquiry, origin, opts);
  if (!targets.length) return { kind: "skip", why: why!, inquiry };
  const message = inquiryMessage(opts.config, inquiry, shown(inquiry.id), origin);
  // Buttons or a select where one click can answer (buttons.ts); the text says how to type it anyway.
  const actions = answerActions(opts.config, inquiry, now);
  const messages = targets.map((t): InquiryAnnouncement => ({
    ...(t.user ? { message, user: t.user, whisper: true } : { message, channel: t.channel!, ...(t.thread ? { context: { thread: t.thread } } : {}) }),
    ...(actions ? { actions } : {}),
  }));
  return { kind: "announce", inquiry, messages };
}

/** The announcement text: the question, who may answer, the command to type, the timeout. */
export function inquiryMessage(config: Config, inquiry: Inquiry, shownId: string, origin: Pick<InquiryOrigin, "workflow" | "task"> = {}): string {
  const fields = inquiryFields(inquiry.schema);
  const who = origin.workflow ? `The StackStorm workflow ${origin.workflow} is` : "A StackStorm workflow is";
  const at = origin.task ? ` at its task ${origin.task}` : "";
  const lines = [`${who} waiting for an answer${at} (inquiry ${inquiry.id}):`, ...describeInquiry(inquiry, config)];
  const only = fields.length === 1 ? fields[0] : undefined;
  const alt = only?.types[0] === "boolean" && !only.enum ? ` (or ${only.name}=no)` : "";
  lines.push(`Answer with: ${answerExample(config, shownId, fields)}${alt}`);
  return lines.join("\n");
}

function nonEmpty(value: unknown): value is string {
  return typeof value === "string" && value !== "";
}
