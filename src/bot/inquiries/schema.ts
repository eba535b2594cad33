/**
 * An inquiry's JSON Schema as chat users see it: the properties it asks for, what each accepts
 * in words, who may answer, its timeout, and the command to type. Shared by the announcement
 * (announce.ts), the answer checks (answer.ts) and the commands (commands.ts).
 */
import * as v from "valibot";
import type { Config } from "../../config/schema.ts";
import type { Inquiry } from "../../st2/schemas.ts";
import { isRecord } from "../../lib/json.ts";
import { pluginPrefix } from "../names.ts";

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
  const props = isRecord(schema.properties) ? schema.properties : {};
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

/**
 * Who may answer, in words, the one wording st2bot uses for it (announcement, list, refusals):
 * `the StackStorm user bob`, `the StackStorm users alice, bob or members of the StackStorm role
 * ops`, or, when the inquiry names nobody, `any StackStorm user allowed to respond to inquiries`.
 */
export function whoMayAnswer(inquiry: Pick<Inquiry, "users" | "roles">): string {
  const parts: string[] = [];
  if (inquiry.users.length) parts.push(`the StackStorm ${inquiry.users.length === 1 ? "user" : "users"} ${inquiry.users.join(", ")}`);
  if (inquiry.roles.length) parts.push(`members of the StackStorm ${inquiry.roles.length === 1 ? "role" : "roles"} ${inquiry.roles.join(", ")}`);
  return parts.length ? parts.join(" or ") : "any StackStorm user allowed to respond to inquiries";
}

/** Whether the inquiry names its responders (else StackStorm's RBAC alone decides). */
export function namesResponders(inquiry: Pick<Inquiry, "users" | "roles">): boolean {
  return inquiry.users.length > 0 || inquiry.roles.length > 0;
}

/** Under standalone auth every answer reaches StackStorm as the bot: said wherever it matters. */
export const SENT_AS_BOT = "Answers given in chat reach StackStorm as st2bot's own StackStorm user, so StackStorm checks that user, not you.";

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
  return `${pluginPrefix(config)}respond`;
}

/** The name of the list command (`<plugin_prefix or st2>inquiries`). */
export function listCommandName(config: Config): string {
  return `${pluginPrefix(config)}inquiries`;
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

/**
 * The inquiry's description in a few lines: what it asks, who may answer (and, under standalone
 * auth when the inquiry names its responders, that answers are sent as the bot), its timeout.
 */
export function describeInquiry(inquiry: Inquiry, config: Config): string[] {
  const fields = inquiryFields(inquiry.schema);
  const lines = fields.length ? fields.map((f) => `  ${describeField(f)}`) : ["  (the schema lists no properties: any JSON object is accepted)"];
  lines.push(`Who may answer: ${whoMayAnswer(inquiry)}.`);
  if (!config.stackstorm.rbac_auth.clientside && namesResponders(inquiry)) lines.push(SENT_AS_BOT);
  const ttl = describeTtl(inquiry.ttl);
  if (ttl) lines.push(ttl);
  return lines;
}
