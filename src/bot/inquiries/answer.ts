/**
 * Reading an answer typed in chat against the inquiry's JSON Schema, and checking it as
 * StackStorm will, so a typo gets a message naming the property instead of a round trip.
 */
import { closedSchema, describeType, inquiryFields, showValue, type InquiryField } from "./schema.ts";
import { hasJsonType, isRecord } from "../../lib/json.ts";

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
      return jsonOf(t, isRecord);
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
  if (field.types.length && !field.types.some((t) => hasJsonType(value, t))) {
    return { ok: false, error: `"${field.name}" must be ${describeType(field)}, but the JSON gives ${JSON.stringify(value)} (${jsonTypeOf(value)}).` };
  }
  return checkEnum(value, field);
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

/** `approved=yes, reason="looks good"` */
export function formatResponse(response: Record<string, unknown>): string {
  const parts = Object.entries(response).map(([k, val]) => `${k}=${typeof val === "boolean" ? (val ? "yes" : "no") : JSON.stringify(val)}`);
  return parts.length ? parts.join(", ") : "an empty answer";
}

