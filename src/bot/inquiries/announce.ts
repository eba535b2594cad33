/**
 * Inquiries announced in chat: a workflow that pauses on `core.ask` shows on the stream as an
 * execution of the `inquirer` runner in status `pending`. This module reads such an event,
 * works out where the question came from (the chat place that started the workflow), and
 * writes the chat message that asks it, with the exact command to answer.
 */
import * as v from "valibot";
import type { Config } from "../../config/schema.ts";
import { logger } from "../../lib/log.ts";
import { InquirySchema, type Inquiry } from "../../st2/schemas.ts";
import type { St2Event } from "../../st2/stream.ts";
import type { BotMessage } from "../types.ts";
import { answerExample, describeInquiry, inquiryFields, isObject } from "./schema.ts";

const log = logger("bot.inquiries");

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

/**
 * Reads an `st2.execution__create|update` event as a pending inquiry: the execution's runner is
 * `inquirer` and its status `pending`. The inquirer's result carries the final `schema`,
 * `users`, `roles`, `route` and `ttl` (its parameters only what the workflow passed).
 * Anything else — other executions, answered inquiries, malformed data — is undefined.
 */
export function pendingInquiry(event: St2Event): { inquiry: Inquiry; execution: ExecutionEvent } | undefined {
  if (!INQUIRY_EVENTS.includes(event.name)) return undefined;
  const parsed = v.safeParse(ExecutionEventSchema, event.data);
  if (!parsed.success) return undefined;
  const ex = parsed.output;
  const runner = ex.runner?.name ?? ex.action?.runner_type;
  if (runner !== "inquirer" || ex.status !== "pending") return undefined;
  const result = isObject(ex.result) ? ex.result : {};
  const inquiry = v.safeParse(InquirySchema, { ...ex.parameters, ...result, id: ex.id });
  return inquiry.success ? { inquiry: inquiry.output, execution: ex } : undefined;
}

/** Where the workflow that asked came from, read from the inquiry execution's context chain. */
export interface InquiryOrigin {
  /** The `source_channel` st2bot sent when the workflow was started from chat. */
  channel?: string;
  /** The chat user who started it (`api_user`). */
  user?: string;
  /** A thread id, when a `source_context` with one is found. */
  thread?: string;
  /** The root workflow's action ref, when StackStorm records it (Orquesta does). */
  workflow?: string;
}

/** Contexts nest one level per workflow; a bound keeps a hostile event from looping us. */
const MAX_CONTEXT_DEPTH = 32;

/**
 * Walks `context`, `context.parent`, `context.parent.parent`… up to the root. Orquesta copies
 * `source_channel` and `api_user` into each task's context and keeps the workflow's own
 * context under `parent` (with `action`); ActionChain puts the parent's whole context under
 * `parent`. The outermost values win: they belong to what a person started from chat.
 */
export function inquiryOrigin(context: Record<string, unknown> | undefined): InquiryOrigin {
  const origin: InquiryOrigin = {};
  let ctx: unknown = context;
  for (let depth = 0; isObject(ctx) && depth < MAX_CONTEXT_DEPTH; depth++) {
    if (nonEmpty(ctx.source_channel)) origin.channel = ctx.source_channel;
    if (nonEmpty(ctx.api_user)) origin.user = ctx.api_user;
    if (nonEmpty(ctx.action)) origin.workflow = ctx.action;
    const thread = threadOf(ctx.source_context);
    if (thread) origin.thread = thread;
    ctx = ctx.parent;
  }
  return origin;
}

function threadOf(sourceContext: unknown): string | undefined {
  if (!isObject(sourceContext)) return undefined;
  const t = sourceContext.thread ?? sourceContext.thread_ts;
  return nonEmpty(t) ? t : typeof t === "number" ? String(t) : undefined;
}

/**
 * The chat message for a pending inquiry, or undefined when the event is not one, when its
 * `route` names another route than st2bot's (`route_key`), or when nowhere to post is known.
 * Target: the chat place that started the workflow (`source_channel`, with its thread), else
 * the chat user who started it (`api_user`, directly), else `defaultChannel`.
 */
export function announceInquiry(event: St2Event, opts: AnnounceOptions): InquiryAnnouncement | undefined {
  const found = pendingInquiry(event);
  if (!found) return undefined;
  const { inquiry, execution } = found;
  if (inquiry.route && inquiry.route !== opts.config.stackstorm.route_key) return undefined;
  const origin = inquiryOrigin(execution.context);
  const message = inquiryMessage(opts.config, inquiry, origin.workflow);
  if (origin.channel) {
    return { message, channel: origin.channel, ...(origin.thread ? { context: { thread: origin.thread } } : {}) };
  }
  if (origin.user) return { message, user: origin.user, whisper: true };
  if (opts.defaultChannel) return { message, channel: opts.defaultChannel };
  return undefined;
}

/** The announcement text: the question, who may answer, the command to type, the timeout. */
export function inquiryMessage(config: Config, inquiry: Inquiry, workflow?: string): string {
  const fields = inquiryFields(inquiry.schema);
  const who = workflow ? `The StackStorm workflow ${workflow} is` : "A StackStorm workflow is";
  const lines = [`${who} waiting for an answer (inquiry ${inquiry.id}):`, ...describeInquiry(inquiry)];
  const only = fields.length === 1 ? fields[0] : undefined;
  const alt = only?.types[0] === "boolean" && !only.enum ? ` (or ${only.name}=no)` : "";
  lines.push(`Answer with: ${answerExample(config, inquiry.id, fields)}${alt}`);
  return lines.join("\n");
}

// ---- wiring ----------------------------------------------------------------------------------

export interface WireInquiriesOptions extends AnnounceOptions {
  /** Sends the announcement durably (the outbox). */
  enqueue(announcement: InquiryAnnouncement): void;
}

export interface InquiryWiring {
  /** Event names to add to the stream's `extraEvents`. */
  events: string[];
  /**
   * Handles one stream event; true when it was an execution event (announced or not), so the
   * caller can stop there. Each inquiry is announced once, however many `pending` updates come.
   */
  onEvent(event: St2Event): boolean;
}

/** Inquiries remembered as announced; older ones are forgotten first (a bound on memory). */
const MAX_REMEMBERED = 1000;

/** The two hooks app.ts needs: the event names to subscribe to and the event handler. */
export function wireInquiries(opts: WireInquiriesOptions): InquiryWiring {
  const announced = new Set<string>();
  return {
    events: INQUIRY_EVENTS,
    onEvent(event) {
      if (!INQUIRY_EVENTS.includes(event.name)) return false;
      const id = isObject(event.data) && typeof event.data.id === "string" ? event.data.id : undefined;
      if (!id || announced.has(id)) return true;
      const out = announceInquiry(event, opts);
      if (!out) {
        // A later update may still name its chat place; an inquiry for another route is not ours to mention.
        const found = pendingInquiry(event);
        if (found && (!found.inquiry.route || found.inquiry.route === opts.config.stackstorm.route_key)) {
          log.info("a pending inquiry has no chat place to be announced in; st2inquiries lists it", { id });
        }
        return true;
      }
      announced.add(id);
      if (announced.size > MAX_REMEMBERED) announced.delete(announced.values().next().value!);
      opts.enqueue(out);
      return true;
    },
  };
}

function nonEmpty(value: unknown): value is string {
  return typeof value === "string" && value !== "";
}
