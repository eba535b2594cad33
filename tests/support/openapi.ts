/**
 * Checks requests against StackStorm's own OpenAPI spec (shared/reference/st2/openapi.yaml),
 * so a test fails when st2bot sends something StackStorm would refuse: an unknown path or
 * method, a missing required parameter or body field, a key the body schema does not allow,
 * a value of the wrong type.
 *
 * Where StackStorm validates a body with its Python API model rather than the spec (the
 * `x-api-model` of the alias-execution and match bodies, which set `additionalProperties:
 * false`), the model's schema is used: that is what the server enforces.
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { hasJsonType as hasType, isRecord as isObject } from "../../src/lib/json.ts";

/** One reason StackStorm would reject a request. */
export interface Violation {
  method: string;
  path: string;
  where: "path" | "query" | "body";
  message: string;
}

/** What the validator needs of a request. */
export interface RequestShape {
  method: string;
  path: string;
  query?: Record<string, string>;
  body?: unknown;
}

export interface OpenApiValidator {
  validate(req: RequestShape): Violation[];
}

type Schema = Record<string, unknown>;

interface Parameter {
  name: string;
  in: string;
  type?: string;
  required?: boolean;
  schema?: Schema;
  items?: Schema;
}

interface Operation {
  parameters?: Parameter[];
}

interface CompiledPath {
  template: string;
  regex: RegExp;
  names: string[];
  requirements: Record<string, RegExp>;
  operations: Record<string, Operation>;
}

/** The spec's location: `shared/` sits beside the repository, in CI as on a developer's machine. */
export const SPEC_URL = new URL("../../../shared/reference/st2/openapi.yaml", import.meta.url);

const str = (required = false) => ({ type: "string", required });

/** `st2common/models/api/action.py` schemas the server applies instead of the spec's definitions. */
const API_MODEL_SCHEMAS: Record<string, Schema> = {
  AliasExecution: {
    type: "object",
    properties: {
      name: str(true),
      format: str(true),
      command: str(true),
      user: str(),
      source_channel: str(true),
      source_context: { type: "object" },
      notification_channel: str(),
      notification_route: str(),
    },
    additionalProperties: false,
  },
  AliasMatchAndExecuteInputAPI: {
    type: "object",
    required: ["command", "source_channel", "user"],
    properties: { command: str(), user: str(), source_channel: str(), notification_channel: str(), notification_route: str() },
    additionalProperties: false,
  },
  // LiveAction + user (the spec's allOf); StackStorm's LiveActionAPI model refuses other keys.
  ExecutionRequest: {
    type: "object",
    required: ["action"],
    properties: {
      id: str(),
      status: str(),
      start_timestamp: str(),
      end_timestamp: str(),
      action: str(),
      action_is_workflow: { type: "boolean" },
      parameters: { type: "object" },
      result: { type: "object" },
      user: str(),
      context: { type: "object" },
      callback: { type: "object" },
      runner_info: { type: "object" },
      notify: { type: "object" },
      delay: { type: "integer" },
    },
    additionalProperties: false,
  },
  ActionAliasMatchRequest: {
    type: "object",
    required: ["command"],
    properties: { command: str() },
    additionalProperties: false,
  },
};

let cached: OpenApiValidator | undefined;

/** The validator for StackStorm's spec (loaded once per process). */
export function openApiValidator(): OpenApiValidator {
  cached ??= buildValidator(parse(readFileSync(SPEC_URL, "utf8")) as Schema);
  return cached;
}

/** Builds a validator from a parsed spec document. */
export function buildValidator(spec: Schema): OpenApiValidator {
  const definitions = (spec.definitions ?? {}) as Record<string, Schema>;
  const paths = compilePaths((spec.paths ?? {}) as Record<string, Record<string, unknown>>);
  const resolve = (schema: Schema | undefined): Schema | undefined => {
    const ref = schema?.$ref;
    if (typeof ref !== "string") return schema;
    const name = ref.replace("#/definitions/", "");
    return API_MODEL_SCHEMAS[name] ?? resolve(definitions[name]);
  };

  return {
    validate(req) {
      const method = req.method.toLowerCase();
      const out: Violation[] = [];
      const add = (where: Violation["where"], message: string) => out.push({ method: req.method, path: req.path, where, message });
      const found = findPath(paths, req.path);
      if (!found) {
        add("path", `unknown path ${req.path}`);
        return out;
      }
      const op = found.path.operations[method];
      if (!op) {
        add("path", `${req.method} is not allowed on ${found.path.template}`);
        return out;
      }
      for (const param of op.parameters ?? []) {
        if (param.in === "query") checkQuery(param, req.query ?? {}, add);
        if (param.in === "body") checkBody(param, req.body, resolve, add);
      }
      return out;
    },
  };
}

function compilePaths(paths: Record<string, Record<string, unknown>>): CompiledPath[] {
  const compiled = Object.entries(paths).map(([template, item]) => {
    const names: string[] = [];
    const regex = new RegExp(
      "^" + template.replace(/\{(\w+)\}/g, (_, n: string) => (names.push(n), "([^/]+)")).replace(/\/$/, "") + "/?$",
    );
    const operations: Record<string, Operation> = {};
    const requirements: Record<string, RegExp> = {};
    for (const [method, op] of Object.entries(item)) {
      if (!["get", "post", "put", "delete", "patch"].includes(method)) continue;
      operations[method] = op as Operation;
      const req = (op as { "x-requirements"?: Record<string, string> })["x-requirements"] ?? {};
      for (const [name, pattern] of Object.entries(req)) requirements[name] = new RegExp(`^(?:${pattern})$`);
    }
    return { template, regex, names, requirements, operations };
  });
  // Literal paths win over templated ones (`/actionalias/help` before `/actionalias/{ref_or_id}`).
  return compiled.sort((a, b) => a.names.length - b.names.length);
}

function findPath(paths: CompiledPath[], path: string): { path: CompiledPath } | undefined {
  for (const p of paths) {
    const m = p.regex.exec(path);
    if (!m) continue;
    const ok = p.names.every((name, i) => p.requirements[name]?.test(decodeURIComponent(m[i + 1]!)) ?? true);
    if (ok) return { path: p };
  }
  return undefined;
}

type Add = (where: Violation["where"], message: string) => void;

function checkQuery(param: Parameter, query: Record<string, string>, add: Add): void {
  const value = query[param.name];
  if (value === undefined) {
    if (param.required) add("query", `required query parameter "${param.name}" is missing`);
    return;
  }
  if (param.type === "integer" && !/^-?\d+$/.test(value)) add("query", `query parameter "${param.name}" is not an integer: ${value}`);
  if (param.type === "boolean" && !/^(true|false|1|0|yes|no|y|n)$/i.test(value)) {
    add("query", `query parameter "${param.name}" is not a boolean: ${value}`);
  }
}

function checkBody(param: Parameter, body: unknown, resolve: (s: Schema | undefined) => Schema | undefined, add: Add): void {
  if (body === undefined) {
    if (param.required) add("body", "request body is required");
    return;
  }
  const schema = resolve(param.schema);
  if (schema) checkValue(body, schema, "body", resolve, add);
}

/** Required fields, closed objects and declared types, recursively through properties and items. */
function checkValue(value: unknown, schema: Schema, at: string, resolve: (s: Schema | undefined) => Schema | undefined, add: Add): void {
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? (schema.type as string[]) : [String(schema.type)];
  if (types.length && !types.some((t) => hasType(value, t))) {
    add("body", `${at} should be ${types.join(" or ")}, got ${JSON.stringify(value)}`);
    return;
  }
  if (isObject(value)) {
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
    for (const [name, prop] of Object.entries(props)) if (prop.required === true) required.add(name);
    for (const name of required) if (!(name in value)) add("body", `${at}.${name} is required`);
    for (const [name, v] of Object.entries(value)) {
      const prop = resolve(props[name]);
      if (prop) checkValue(v, prop, `${at}.${name}`, resolve, add);
      else if (schema.additionalProperties === false) add("body", `${at}.${name} is not allowed (additionalProperties: false)`);
    }
  }
  if (Array.isArray(value) && isObject(schema.items)) {
    const items = resolve(schema.items as Schema)!;
    value.forEach((v, i) => checkValue(v, items, `${at}[${i}]`, resolve, add));
  }
}
