/**
 * StackStorm inquiries in chat: a workflow that pauses on `core.ask` shows on the stream as an
 * execution of the `inquirer` runner in status `pending`. This module reads such an event,
 * works out where the question came from (the chat place that started the workflow), and
 * writes the chat message that asks it, with the exact command to answer. It also holds the
 * reading of an inquiry's JSON Schema that the `st2inquiries`/`st2respond` commands share.
 */
import * as v from "valibot";
import type { Config } from "../config/schema.ts";
import { logger } from "../lib/log.ts";
import { InquirySchema, type Inquiry } from "../st2/schemas.ts";
import type { St2Event } from "../st2/stream.ts";
import type { BotMessage } from "./types.ts";

const log = logger("bot.inquiries");

/** The stream events an inquiry shows up in (StackStorm has no inquiry-specific event). */
export const INQUIRY_EVENTS = ["st2.execution__create", "st2.execution__update"];

// ---- the inquiry's schema, as chat users see it ---------------------------------------------

/** One property an inquiry asks for, read from its draft-4 JSON Schema. */
export interface InquiryField {
  name: string;
  /** JSON Schema type names (`boolean`, `integer`, ...); empty means any. */
  types: string[];
  description?: string;
  required: boolean;
  /** Allowed values when the schema lists them. */
  enum?: unknown[];
}

const PropertySchema = v.looseObject({
  type: v.optional(v.union([v.string(), v.array(v.string())])),
  description: v.optional(v.string()),
  required: v.optional(v.unknown()),
  enum: v.optional(v.array(v.unknown())),
});

/**
 * The properties of an inquiry schema, in schema order. A property is required when the
 * top-level `required` array names it (draft 4) or it says `required: true` itself (draft 3,
 * which `core.ask`'s default schema uses and StackStorm's validator honours).
 * Properties whose definition is not an object are kept as untyped.
 */
export function inquiryFields(schema: Record<string, unknown>): InquiryField[] {
  const props = isObject(schema.properties) ? schema.properties : {};
  const requiredList = Array.isArray(schema.required) ? schema.required.filter((r) => typeof r === "string") : [];
  return Object.entries(props).map(([name, raw]) => {
    const parsed = v.safeParse(PropertySchema, raw);
    const p = parsed.success ? parsed.output : {};
    const types = p.type === undefined ? [] : Array.isArray(p.type) ? p.type : [p.type];
    const field: InquiryField = { name, types, required: p.required === true || requiredList.includes(name) };
    if (p.description) field.description = p.description;
    if (p.enum) field.enum = p.enum;
    return field;
  });
}

/** Whether the schema refuses properties it does not list (`additionalProperties: false`). */
export function closedSchema(schema: Record<string, unknown>): boolean {
  return schema.additionalProperties === false;
}

const TYPE_WORDS: Record<string, string> = {
  boolean: "yes or no",
  integer: "a whole number",
  number: "a number",
  string: "text",
  array: "a list",
  object: "a JSON object",
  null: "null",
};

/** What a field accepts, in words: `yes or no`, `one of: staging, production`, `a whole number or text`. */
export function describeType(field: InquiryField): string {
  if (field.enum?.length) return `one of: ${field.enum.map(showValue).join(", ")}`;
  if (field.types.length === 0) return "any value";
  return field.types.map((t) => TYPE_WORDS[t] ?? t).join(" or ");
}

/** `approved (yes or no, required): Approve the deploy?` */
export function describeField(field: InquiryField): string {
  const what = `${describeType(field)}${field.required ? ", required" : ""}`;
  return `${field.name} (${what})${field.description ? `: ${field.description}` : ""}`;
}

/** Who may answer, in words: `users alice, bob; roles ops` or anyone permitted. */
export function describeResponders(inquiry: Pick<Inquiry, "users" | "roles">): string {
  const parts: string[] = [];
  if (inquiry.users.length) parts.push(`${inquiry.users.length === 1 ? "user" : "users"} ${inquiry.users.join(", ")}`);
  if (inquiry.roles.length) parts.push(`${inquiry.roles.length === 1 ? "role" : "roles"} ${inquiry.roles.join(", ")}`);
  return parts.length ? parts.join("; ") : "anyone StackStorm allows to respond to inquiries";
}

/** An inquiry's `ttl` (minutes, StackStorm's unit) in words; 0 or less never times out. */
export function describeTtl(ttlMinutes: number | undefined): string | undefined {
  if (ttlMinutes === undefined) return undefined;
  if (ttlMinutes <= 0) return "It does not time out.";
  return `It times out ${minutesText(ttlMinutes)} after it was asked.`;
}

function minutesText(m: number): string {
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  if (m % 1440 === 0) return plural(m / 1440, "day");
  if (m % 60 === 0) return plural(m / 60, "hour");
  if (m > 60) return `${plural(Math.floor(m / 60), "hour")} ${plural(Math.round(m % 60), "minute")}`;
  return plural(Math.round(m * 100) / 100, "minute");
}

/** The name of the answer command, consistent with `st2help` (`<plugin_prefix or st2>respond`). */
export function respondCommandName(config: Config): string {
  return `${config.stackstorm.plugin_prefix || "st2"}respond`;
}

/** The name of the list command (`<plugin_prefix or st2>inquiries`). */
export function listCommandName(config: Config): string {
  return `${config.stackstorm.plugin_prefix || "st2"}inquiries`;
}

/**
 * The command a user types to answer, e.g. `!st2respond 5f2c… approved=yes`: the required
 * properties (all of them when none is required) with an example or a placeholder value.
 */
export function answerExample(config: Config, id: string, fields: InquiryField[]): string {
  const shown = fields.some((f) => f.required) ? fields.filter((f) => f.required) : fields;
  const pairs = shown.map((f) => `${f.name}=${exampleValue(f)}`);
  const typed = `${config.bot.prefix}${respondCommandName(config)} ${id}`;
  return pairs.length ? `${typed} ${pairs.join(" ")}` : `${typed} {}`;
}

function exampleValue(field: InquiryField): string {
  if (field.enum?.length) return quoteIfNeeded(showValue(field.enum[0]));
  const type = field.types[0];
  if (type === "boolean") return "yes";
  if (type === "integer" || type === "number" || type === "array" || type === "object") return `<${type === "array" ? "a,b" : type}>`;
  return `"<text>"`;
}

/** A value as a user would type it: strings bare, everything else as JSON. */
export function showValue(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function quoteIfNeeded(text: string): string {
  return /\s|^$/.test(text) ? JSON.stringify(text) : text;
}

/** The inquiry's description in a few lines: what it asks, who may answer, its timeout. */
export function describeInquiry(inquiry: Inquiry): string[] {
  const fields = inquiryFields(inquiry.schema);
  const lines = fields.length ? fields.map((f) => `  ${describeField(f)}`) : ["  (the schema lists no properties: any JSON object is accepted)"];
  lines.push(`Who may answer: ${describeResponders(inquiry)}.`);
  const ttl = describeTtl(inquiry.ttl);
  if (ttl) lines.push(ttl);
  return lines;
}

// ---- the announcement ------------------------------------------------------------------------

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

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function nonEmpty(value: unknown): value is string {
  return typeof value === "string" && value !== "";
}
