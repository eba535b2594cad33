/**
 * Answering StackStorm inquiries from chat: `st2inquiries` lists the pending ones and
 * `st2respond <id> <answer>` answers one as the chat user's own StackStorm identity (the
 * inquiry's `users`/`roles` are checked against that identity, so under client-side auth each
 * person answers as themselves). Answers are checked against the inquiry's schema here first,
 * so a typo gets a message naming the property instead of a round trip to StackStorm.
 */
import type { St2Client } from "../../st2/client.ts";
import { St2ApiError } from "../../st2/http.ts";
import type { Inquiry } from "../../st2/schemas.ts";
import { CommandError } from "../../lib/errors.ts";
import type { Command, Context } from "../types.ts";
import { callStackStorm, type St2CommandDeps } from "./st2.ts";
import {
  answerExample,
  closedSchema,
  describeField,
  describeInquiry,
  describeType,
  inquiryFields,
  listCommandName,
  respondCommandName,
  showValue,
  type InquiryField,
} from "../inquiries.ts";

/** What the inquiry commands need: the same as the `st2` command's, minus the alias parts. */
export type InquiryCommandDeps = Pick<St2CommandDeps, "config" | "clientFor" | "expired">;

type As = { client: St2Client; personal: boolean };

/** The shortest id prefix accepted: short prefixes collide too easily to be safe to act on. */
export const MIN_PREFIX = 6;
const FULL_ID = /^[0-9a-f]{24}$/i;

/** `st2inquiries` and `st2respond` (names follow `plugin_prefix`, as `st2help` does). */
export function inquiryCommands(deps: InquiryCommandDeps): Command[] {
  return [listCommand(deps), respondCommand(deps)];
}

function listCommand(deps: InquiryCommandDeps): Command {
  const name = listCommandName(deps.config);
  return {
    plugin: "St2",
    name,
    help: "List the StackStorm inquiries waiting for an answer",
    usage: name,
    run: async (ctx) => {
      const as = await deps.clientFor(ctx);
      const pending = await callInquiries(ctx, as, deps, () => as.client.listInquiries());
      await ctx.reply(renderInquiryList(deps, pending, ctx.backend.maxMessageLength));
    },
  };
}

/** The list reply; stops early (saying how many more) rather than exceed the message size. */
export function renderInquiryList(deps: Pick<InquiryCommandDeps, "config">, pending: Inquiry[], maxLength: number): string {
  if (pending.length === 0) return "No StackStorm inquiries are waiting for an answer.";
  const budget = maxLength - 200;
  const blocks: string[] = [];
  let size = 0;
  for (const inquiry of pending) {
    const fields = inquiryFields(inquiry.schema);
    const block = [`Inquiry ${inquiry.id}:`, ...describeInquiry(inquiry), `  Answer: ${answerExample(deps.config, inquiry.id, fields)}`].join("\n");
    if (blocks.length > 0 && size + block.length + 2 > budget) break;
    blocks.push(block);
    size += block.length + 2;
  }
  const head = `${pending.length} StackStorm ${pending.length === 1 ? "inquiry is" : "inquiries are"} waiting for an answer:`;
  const rest = pending.length - blocks.length;
  const tail = rest > 0 ? `\n…and ${rest} more that did not fit in one message.` : "";
  return `${head}\n\n${blocks.join("\n\n")}${tail}`;
}

function respondCommand(deps: InquiryCommandDeps): Command {
  const name = respondCommandName(deps.config);
  const usage = `${name} <inquiry id> <property>=<value> ...`;
  return {
    plugin: "St2",
    name,
    help: "Answer a StackStorm inquiry (key=value pairs, a JSON object, or a bare value)",
    usage,
    run: async (ctx) => {
      const match = /^(\S+)\s*([\s\S]*)$/.exec(ctx.command?.args ?? "");
      if (!match) throw new CommandError(`Tell me which inquiry and your answer, e.g. ${deps.config.bot.prefix}${name} 5f2c3a approved=yes. ${listHint(deps)}`);
      const idText = match[1]!;
      const answerText = match[2] ?? "";
      const as = await deps.clientFor(ctx);
      const inquiry = await findInquiry(ctx, as, deps, idText);
      const parsed = parseAnswer(answerText, inquiry.schema);
      if (!parsed.ok) throw new CommandError(`${parsed.error}\n${answerHelp(deps, inquiry)}`);
      const done = await callInquiries(ctx, as, deps, () => as.client.respondInquiry(inquiry.id, parsed.response), inquiry);
      await ctx.reply(`Thanks, your answer to inquiry ${inquiry.id} was accepted (${formatResponse(done.response)}); the workflow can continue.`);
    },
  };
}

function listHint(deps: InquiryCommandDeps): string {
  return `Type ${deps.config.bot.prefix}${listCommandName(deps.config)} to see the pending inquiries.`;
}

function answerHelp(deps: InquiryCommandDeps, inquiry: Inquiry): string {
  const fields = inquiryFields(inquiry.schema);
  if (fields.length === 0) return `This inquiry takes any JSON object, e.g. ${answerExample(deps.config, inquiry.id, fields)}`;
  const asks = fields.map((f) => `  ${describeField(f)}`).join("\n");
  return `This inquiry asks for:\n${asks}\nFor example: ${answerExample(deps.config, inquiry.id, fields)}`;
}

/** `approved=yes, reason="looks good"` */
export function formatResponse(response: Record<string, unknown>): string {
  const parts = Object.entries(response).map(([k, val]) => `${k}=${typeof val === "boolean" ? (val ? "yes" : "no") : JSON.stringify(val)}`);
  return parts.length ? parts.join(", ") : "an empty answer";
}

/**
 * The inquiry an id or id prefix names. A full id is fetched directly, so StackStorm itself says
 * when it was already answered or timed out; a prefix (at least MIN_PREFIX characters) must
 * match exactly one pending inquiry.
 */
async function findInquiry(ctx: Context, as: As, deps: InquiryCommandDeps, idText: string): Promise<Inquiry> {
  if (FULL_ID.test(idText)) return callInquiries(ctx, as, deps, () => as.client.getInquiry(idText));
  if (idText.length < MIN_PREFIX) {
    throw new CommandError(`"${idText}" is too short to name an inquiry: give at least ${MIN_PREFIX} characters of its id. ${listHint(deps)}`);
  }
  const pending = await callInquiries(ctx, as, deps, () => as.client.listInquiries());
  const hits = pending.filter((i) => i.id.toLowerCase().startsWith(idText.toLowerCase()));
  if (hits.length === 1) return hits[0]!;
  if (hits.length === 0) {
    throw new CommandError(`No pending inquiry has an id starting with "${idText}" (it may have been answered or timed out already). ${listHint(deps)}`);
  }
  throw new CommandError(`"${idText}" starts the ids of ${hits.length} pending inquiries (${hits.map((i) => i.id).join(", ")}); give more of the id.`);
}

/**
 * A StackStorm call about an inquiry, with its refusals in plain words: 400 already answered /
 * timed out / schema, 403 not one of the permitted responders, 404 unknown. Everything else
 * (unreachable, expired login, 5xx) goes through `callStackStorm` like every st2 command.
 */
async function callInquiries<T>(ctx: Context, as: As, deps: InquiryCommandDeps, fn: () => Promise<T>, inquiry?: Inquiry): Promise<T> {
  return callStackStorm(ctx, as, deps, async () => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof St2ApiError) {
        const plain = inquiryRefusal(err.status, err.faultstring, inquiry);
        if (plain) throw new CommandError(plain);
      }
      throw err;
    }
  });
}

/** StackStorm's inquiry faults in plain language, quoting its own reason; undefined for other statuses. */
export function inquiryRefusal(status: number, fault: string, inquiry?: Pick<Inquiry, "users" | "roles">): string | undefined {
  const says = `(StackStorm says: ${fault})`;
  if (status === 403) {
    const who = inquiry && (inquiry.users.length || inquiry.roles.length) ? ` Only ${responders(inquiry)} may answer it.` : "";
    return `You are not allowed to answer this inquiry as your StackStorm user.${who} ${says}`;
  }
  if (status === 404) return `StackStorm has no inquiry with that id. ${says}`;
  if (status !== 400) return undefined;
  if (/already been responded/i.test(fault)) return `This inquiry has already been answered, so it takes no more answers. ${says}`;
  if (/timed out/i.test(fault)) return `This inquiry timed out, so it can no longer be answered. ${says}`;
  if (/not an inquiry/i.test(fault)) return `That id belongs to an execution that is not an inquiry. ${says}`;
  if (/schema validation/i.test(fault)) return `StackStorm did not accept the answer: it does not fit the inquiry's schema. ${says}`;
  return `StackStorm refused the answer. ${says}`;
}

function responders(inquiry: Pick<Inquiry, "users" | "roles">): string {
  const parts = [];
  if (inquiry.users.length) parts.push(`the StackStorm ${inquiry.users.length === 1 ? "user" : "users"} ${inquiry.users.join(", ")}`);
  if (inquiry.roles.length) parts.push(`members of the ${inquiry.roles.length === 1 ? "role" : "roles"} ${inquiry.roles.join(", ")}`);
  return parts.join(" or ");
}

// ---- parsing and checking an answer ----------------------------------------------------------

export type AnswerResult = { ok: true; response: Record<string, unknown> } | { ok: false; error: string };

/** `key=value` with a value in double quotes (backslash escapes), single quotes, or one token. */
const PAIR = /\s*([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|'[^']*'|[^\s"']\S*|(?=\s|$))/y;

/**
 * Reads an answer typed in chat against the inquiry's JSON Schema and checks it as StackStorm
 * will (required properties, types, enum, `additionalProperties: false`). Accepted forms:
 * - a JSON object: `{"approved": true}` (values must already have the right types);
 * - `key=value` pairs, each value cast to its property's type (booleans accept yes/no,
 *   true/false, y/n, on/off, 1/0; integers and numbers their decimal form; lists a JSON array or
 *   comma-separated text; objects JSON); values with spaces in quotes;
 * - a bare value, when the schema has exactly one property: `yes`.
 * Chat apps' curly quotes are read as straight ones.
 */
export function parseAnswer(text: string, schema: Record<string, unknown>): AnswerResult {
  const fields = inquiryFields(schema);
  const typed = straightQuotes(text.trim());
  if (typed === "") return { ok: false, error: "Give your answer after the inquiry id." };
  if (typed.startsWith("{")) return parseJsonAnswer(typed, fields, schema);
  const pairs = splitPairs(typed);
  const only = fields.length === 1 ? fields[0]! : undefined;
  // A lone property's value may itself contain "=" (a URL, a comment): only pairs that name
  // that property (or, for a property that cannot be text, any pairs) are read as pairs.
  const textual = !only || only.types.length === 0 || only.types.includes("string");
  const usePairs = pairs && (!only || !textual || pairs.every(([k]) => k === only.name));
  if (!usePairs && only) return check({ [only.name]: unquote(typed) }, fields, schema, true);
  if (!pairs) {
    return { ok: false, error: `I could not read "${text.trim()}" as an answer: use property=value pairs (quote values with spaces) or a JSON object.` };
  }
  const raw: Record<string, string> = {};
  for (const [key, value] of pairs) {
    if (Object.hasOwn(raw, key)) return { ok: false, error: `"${key}" is given twice.` };
    raw[key] = unquote(value);
  }
  return check(raw, fields, schema, true);
}

function parseJsonAnswer(typed: string, fields: InquiryField[], schema: Record<string, unknown>): AnswerResult {
  let value: unknown;
  try {
    value = JSON.parse(typed);
  } catch {
    return { ok: false, error: "That answer starts like a JSON object but is not valid JSON." };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { ok: false, error: "A JSON answer must be an object, e.g. {\"approved\": true}." };
  return check(value as Record<string, unknown>, fields, schema, false);
}

/** The `key=value` pairs when the whole text is made of them, else undefined. */
function splitPairs(text: string): [string, string][] | undefined {
  const out: [string, string][] = [];
  PAIR.lastIndex = 0;
  while (PAIR.lastIndex < text.length) {
    const m = PAIR.exec(text);
    if (!m) return undefined;
    out.push([m[1]!, m[2]!]);
  }
  return out.length ? out : undefined;
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    try {
      return JSON.parse(value) as string;
    } catch {
      return value.slice(1, -1);
    }
  }
  if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) return value.slice(1, -1);
  return value;
}

function straightQuotes(text: string): string {
  return text.replace(/[\u201c\u201d\u201e\u201f\u2033]/g, '"').replace(/[\u2018\u2019\u201a\u201b\u2032]/g, "'");
}

/** Casts (when the values are typed text) and checks every property; the first problem wins. */
function check(values: Record<string, unknown>, fields: InquiryField[], schema: Record<string, unknown>, cast: boolean): AnswerResult {
  const byName = new Map(fields.map((f) => [f.name, f]));
  const response: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    const field = byName.get(key);
    if (!field) {
      if (closedSchema(schema)) {
        const asked = fields.map((f) => f.name).join(", ") || "nothing";
        return { ok: false, error: `This inquiry does not ask for "${key}"; it asks for: ${asked}.` };
      }
      response[key] = value;
      continue;
    }
    const out = cast && typeof value === "string" ? castValue(value, field) : checkValue(value, field);
    if (!out.ok) return out;
    response[key] = out.value;
  }
  const missing = fields.filter((f) => f.required && !Object.hasOwn(response, f.name));
  if (missing.length) {
    const list = missing.map((f) => `"${f.name}" (${describeType(f)}${f.description ? `: ${f.description}` : ""})`).join(", ");
    return { ok: false, error: `Missing ${missing.length === 1 ? "the required property" : "required properties"} ${list}.` };
  }
  return { ok: true, response };
}

type ValueResult = { ok: true; value: unknown } | { ok: false; error: string };

const TRUE_WORDS = ["yes", "y", "true", "on", "1"];
const FALSE_WORDS = ["no", "n", "false", "off", "0"];

/** Text → the first of the property's types it reads as (text last, so `5` becomes a number). */
function castValue(text: string, field: InquiryField): ValueResult {
  if (field.types.length === 0) return checkEnum(text, field);
  const order = [...field.types.filter((t) => t !== "string"), ...field.types.filter((t) => t === "string")];
  for (const type of order) {
    const value = castTo(text, type);
    if (value !== NOT_THIS) return checkEnum(value, field);
  }
  return wrongType(field, text);
}

const NOT_THIS = Symbol("not this type");

function castTo(text: string, type: string): unknown {
  const t = text.trim();
  switch (type) {
    case "boolean":
      if (TRUE_WORDS.includes(t.toLowerCase())) return true;
      if (FALSE_WORDS.includes(t.toLowerCase())) return false;
      return NOT_THIS;
    case "integer":
      return /^[-+]?\d+$/.test(t) ? Number.parseInt(t, 10) : NOT_THIS;
    case "number": {
      const n = Number(t);
      return t !== "" && Number.isFinite(n) ? n : NOT_THIS;
    }
    case "string":
      return text;
    case "null":
      return t === "" || t === "null" ? null : NOT_THIS;
    case "array": {
      if (t.startsWith("[")) return jsonOf(t, Array.isArray);
      return t === "" ? [] : t.split(",").map((s) => s.trim());
    }
    case "object":
      return jsonOf(t, (x) => typeof x === "object" && x !== null && !Array.isArray(x));
    default:
      return NOT_THIS;
  }
}

function jsonOf(text: string, ok: (x: unknown) => boolean): unknown {
  try {
    const value: unknown = JSON.parse(text);
    return ok(value) ? value : NOT_THIS;
  } catch {
    return NOT_THIS;
  }
}

/** A value that arrived typed (JSON answers) must already have one of the property's types. */
function checkValue(value: unknown, field: InquiryField): ValueResult {
  if (field.types.length && !field.types.some((t) => hasType(value, t))) {
    return { ok: false, error: `"${field.name}" must be ${describeType(field)}, but the JSON gives ${JSON.stringify(value)} (${jsonTypeOf(value)}).` };
  }
  return checkEnum(value, field);
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case "boolean":
      return typeof value === "boolean";
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "string":
      return typeof value === "string";
    case "null":
      return value === null;
    case "array":
      return Array.isArray(value);
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    default:
      return true; // a type this reader does not know: leave it to StackStorm
  }
}

function checkEnum(value: unknown, field: InquiryField): ValueResult {
  if (!field.enum?.length || field.enum.some((e) => Bun.deepEquals(e, value))) return { ok: true, value };
  return { ok: false, error: `"${field.name}" must be ${describeType(field)}; "${showValue(value)}" is not.` };
}

function wrongType(field: InquiryField, text: string): ValueResult {
  return { ok: false, error: `"${field.name}" must be ${describeType(field)}, not "${text}".` };
}

function jsonTypeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}
