/**
 * The request bodies StackStorm validates before any controller runs (its OpenAPI schema, then
 * the API model's own schema with `additionalProperties: false`), with jsonschema's messages:
 * `'name' is a required property`, `5 is not of type 'string'`,
 * `Additional properties are not allowed ('x' was unexpected)`.
 */
import { Fault } from "./http.ts";
import { pyRepr } from "./python.ts";
import { hasJsonType, isRecord } from "../lib/json.ts";

type JsonType = string;

export interface BodySchema {
  /** Property → accepted types and whether it is required, in the schema's order. */
  properties: [name: string, types: JsonType[], required: boolean][];
  /** When true, keys not listed are refused. */
  closed: boolean;
  minimum?: Record<string, number>;
}

const str = (name: string, required = false): [string, JsonType[], boolean] => [name, ["string"], required];

/** `AliasExecutionAPI`: the body of `POST /aliasexecution`. */
export const ALIAS_EXECUTION: BodySchema = {
  properties: [
    str("name", true),
    str("format", true),
    str("command", true),
    str("user"),
    str("source_channel", true),
    ["source_context", ["object"], false],
    str("notification_channel"),
    str("notification_route"),
  ],
  closed: true,
};

/**
 * `LiveActionCreateAPI`: the body of `POST /executions` (a LiveAction plus `user`). Parameter
 * names are checked apart, by `parameterNameError`.
 */
export const EXECUTION_REQUEST: BodySchema = {
  properties: [
    str("id"),
    str("status"),
    str("start_timestamp"),
    str("end_timestamp"),
    str("action", true),
    ["parameters", ["object"], false],
    ["result", ["array", "boolean", "integer", "number", "object", "string"], false],
    ["context", ["object"], false],
    ["callback", ["object"], false],
    ["runner_info", ["object"], false],
    ["notify", ["object"], false],
    ["delay", ["integer"], false],
    ["user", ["string", "null"], false],
  ],
  closed: true,
};

/**
 * The `parameters` of a LiveAction allow only `^\w+$` names (Python's `\w`, so Unicode letters
 * too), via `patternProperties` with `additionalProperties: false`; jsonschema's message names
 * the offenders and the regex.
 */
export function parameterNameError(parameters: Record<string, unknown>): string | undefined {
  const bad = Object.keys(parameters).filter((k) => !/^[\p{L}\p{N}_]+$/u.test(k)).sort();
  if (bad.length === 0) return undefined;
  return `${bad.map(pyRepr).join(", ")} ${bad.length === 1 ? "does" : "do"} not match any of the regexes: '^\\\\w+$'`;
}

/** `AliasMatchAndExecuteInputAPI` (the OpenAPI definition also requires `user`). */
export const MATCH_AND_EXECUTE: BodySchema = {
  properties: [str("command", true), str("source_channel", true), str("user", true), str("notification_channel"), str("notification_route")],
  closed: true,
};

/** `ActionAliasMatchAPI`. */
export const ALIAS_MATCH: BodySchema = { properties: [str("command", true)], closed: true };

/** `TokenRequest`: optional `ttl`, an integer of at least 1. */
export const TOKEN_REQUEST: BodySchema = { properties: [["ttl", ["integer", "null"], false]], closed: false, minimum: { ttl: 1 } };

/** `TokenValidationRequest`. */
export const TOKEN_VALIDATION: BodySchema = { properties: [["token", ["string", "null"], false]], closed: false };

/** `InquiryResponseResult`. */
export const INQUIRY_RESPONSE: BodySchema = { properties: [str("id", true), ["response", ["object"], true]], closed: false };

/**
 * A draft-4 (or draft-3 `required: true`) object schema, as far as this module checks:
 * required keys, declared types, `additionalProperties: false`. Used for inquiry responses.
 */
export function fromJsonSchema(schema: Record<string, unknown>): BodySchema {
  const props = isRecord(schema.properties) ? schema.properties : {};
  const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
  const properties: BodySchema["properties"] = Object.entries(props).map(([name, prop]) => {
    const type = isRecord(prop) ? prop.type : undefined;
    const types = type === undefined ? [] : Array.isArray(type) ? type.map(String) : [String(type)];
    return [name, types, required.includes(name) || (isRecord(prop) && prop.required === true)];
  });
  return { properties, closed: schema.additionalProperties === false };
}

/** Checks `body` against `schema`; throws StackStorm's 400 on the first violation. */
export function checkBody(body: unknown, schema: BodySchema): Record<string, unknown> {
  const error = bodyError(body, schema);
  if (error) throw new Fault(400, error);
  return body as Record<string, unknown>;
}

export function bodyError(body: unknown, schema: BodySchema): string | undefined {
  if (!isRecord(body)) return `${pyRepr(body)} is not of type 'object'`;
  for (const [name, types, required] of schema.properties) {
    if (!(name in body)) {
      if (required) return `'${name}' is a required property`;
      continue;
    }
    const value = body[name];
    if (types.length && !types.some((t) => hasJsonType(value, t))) return `${pyRepr(value)} is not of type ${types.map((t) => `'${t}'`).join(", ")}`;
    const min = schema.minimum?.[name];
    if (min !== undefined && typeof value === "number" && value < min) return `${value} is less than the minimum of ${min}`;
  }
  if (schema.closed) {
    const known = new Set(schema.properties.map(([n]) => n));
    const extra = Object.keys(body).filter((k) => !known.has(k));
    if (extra.length === 1) return `Additional properties are not allowed ('${extra[0]}' was unexpected)`;
    if (extra.length > 1) return `Additional properties are not allowed (${extra.map((k) => `'${k}'`).join(", ")} were unexpected)`;
  }
  return undefined;
}
