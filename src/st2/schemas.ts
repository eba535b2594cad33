/**
 * The StackStorm responses st2bot reads, as valibot schemas. They check only the fields
 * st2bot uses and keep every other field (looseObject), so a newer StackStorm that adds
 * fields still passes.
 */
import * as v from "valibot";
import { ActionAliasSchema } from "./aliases/types.ts";

export { ActionAliasSchema };
export type { ActionAlias } from "./aliases/types.ts";

/** `{"faultstring": "..."}`: the body of every StackStorm error. */
export const ErrorSchema = v.looseObject({ faultstring: v.string() });

/** `POST /auth/v1/tokens` → 201. */
export const TokenSchema = v.looseObject({
  user: v.string(),
  token: v.pipe(v.string(), v.nonEmpty()),
  expiry: v.pipe(v.string(), v.isoTimestamp("expiry must be an ISO-8601 timestamp")),
  id: v.optional(v.string()),
  metadata: v.optional(v.unknown()),
});
export type Token = v.InferOutput<typeof TokenSchema>;

/** `POST /auth/v1/tokens/validate` → 200. */
export const TokenValidationSchema = v.looseObject({ valid: v.boolean() });

/** `GET /api/v1/user` → 200: who the credential belongs to. */
export const UserInfoSchema = v.looseObject({
  username: v.optional(v.string()),
  authentication: v.optional(v.looseObject({ method: v.optional(v.string()) })),
  rbac: v.optional(v.looseObject({ enabled: v.optional(v.boolean()), is_admin: v.optional(v.boolean()) })),
});
export type UserInfo = v.InferOutput<typeof UserInfoSchema>;

/** `GET /api/v1/executions/{id}` and the `execution` inside an alias execution. */
export const ExecutionSchema = v.looseObject({
  id: v.string(),
  status: v.optional(v.string()),
  web_url: v.optional(v.string()),
  action: v.optional(v.looseObject({ ref: v.optional(v.string()) })),
  start_timestamp: v.optional(v.string()),
  end_timestamp: v.optional(v.string()),
  elapsed_seconds: v.optional(v.number()),
  parameters: v.optional(v.record(v.string(), v.unknown())),
  context: v.optional(v.record(v.string(), v.unknown())),
  result: v.optional(v.unknown()),
  runner: v.optional(v.looseObject({ name: v.optional(v.string()) })),
});
export type Execution = v.InferOutput<typeof ExecutionSchema>;

/** The alias part of an alias-execution answer: only the ack/result settings matter here. */
const ExecutedAliasSchema = v.looseObject({
  name: v.optional(v.string()),
  ref: v.optional(v.string()),
  ack: v.optional(
    v.looseObject({
      enabled: v.optional(v.boolean()),
      append_url: v.optional(v.boolean()),
      format: v.optional(v.string()),
      extra: v.optional(v.record(v.string(), v.unknown())),
    }),
  ),
  result: v.optional(v.unknown()),
  extra: v.optional(v.record(v.string(), v.unknown())),
});

/** `POST /api/v1/aliasexecution` → 201. */
export const AliasExecutionSchema = v.looseObject({
  execution: ExecutionSchema,
  actionalias: v.optional(ExecutedAliasSchema),
  message: v.optional(v.string()),
  extra: v.optional(v.record(v.string(), v.unknown())),
});
export type AliasExecution = v.InferOutput<typeof AliasExecutionSchema>;

// ---- the hot answer, checked by hand ----
// Every chat command's ack waits for the POST /aliasexecution answer to be checked; valibot
// copies every key of a looseObject while checking, which costs as much as the JSON parse.
// `isAliasExecution` applies AliasExecutionSchema's rules without copying (the test holds the two
// to the same verdicts); anything it refuses goes through the schema for its error text.

/** What valibot's `looseObject` and `record` take: any object, arrays included (`input && typeof input === "object"`). */
const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null;
const optional = (x: unknown, check: (x: unknown) => boolean) => x === undefined || check(x);
const isString = (x: unknown) => typeof x === "string";
const isBoolean = (x: unknown) => typeof x === "boolean";
const withRef = (x: unknown) => isRecord(x) && optional(x.ref, isString);
const withName = (x: unknown) => isRecord(x) && optional(x.name, isString);

function isExecution(x: unknown): boolean {
  return isRecord(x) && typeof x.id === "string" && optional(x.status, isString) && optional(x.web_url, isString) &&
    optional(x.action, withRef) && optional(x.start_timestamp, isString) && optional(x.end_timestamp, isString) &&
    optional(x.elapsed_seconds, (n) => typeof n === "number" && !Number.isNaN(n)) && optional(x.parameters, isRecord) &&
    optional(x.context, isRecord) && optional(x.runner, withName);
}

function isExecutedAlias(x: unknown): boolean {
  if (!isRecord(x) || !optional(x.name, isString) || !optional(x.ref, isString) || !optional(x.extra, isRecord)) return false;
  const ack = x.ack;
  return optional(ack, (a) => isRecord(a) && optional(a.enabled, isBoolean) && optional(a.append_url, isBoolean) && optional(a.format, isString) && optional(a.extra, isRecord));
}

/** Whether `AliasExecutionSchema` accepts `x` (then `x` is its output as it stands). */
export function isAliasExecution(x: unknown): x is AliasExecution {
  return isRecord(x) && isExecution(x.execution) && optional(x.actionalias, isExecutedAlias) && optional(x.message, isString) && optional(x.extra, isRecord);
}

/** `POST /api/v1/aliasexecution/match_and_execute` → 201. */
export const MatchAndExecuteSchema = v.looseObject({ results: v.array(AliasExecutionSchema) });
export type MatchAndExecute = v.InferOutput<typeof MatchAndExecuteSchema>;

/**
 * `GET /api/v1/actionalias/help` → 200. StackStorm sends `available`; its spec spells it
 * `avaliable`, so both are accepted and folded into `available`.
 */
export const AliasHelpSchema = v.pipe(
  v.looseObject({
    available: v.optional(v.number()),
    avaliable: v.optional(v.number()),
    helpstrings: v.array(
      v.looseObject({ pack: v.string(), display: v.string(), description: v.optional(v.string(), "") }),
    ),
  }),
  v.transform(({ avaliable, ...rest }) => ({ ...rest, available: rest.available ?? avaliable ?? rest.helpstrings.length })),
);
export type AliasHelp = v.InferOutput<typeof AliasHelpSchema>;

/** `GET /api/v1/inquiries/{id}` → 200 (the list endpoint returns an array of these). */
export const InquirySchema = v.looseObject({
  id: v.string(),
  route: v.optional(v.string(), ""),
  ttl: v.optional(v.number()),
  users: v.optional(v.array(v.string()), []),
  roles: v.optional(v.array(v.string()), []),
  schema: v.optional(v.record(v.string(), v.unknown()), {}),
});
export type Inquiry = v.InferOutput<typeof InquirySchema>;

/** `PUT /api/v1/inquiries/{id}` → 200. */
export const InquiryResponseSchema = v.looseObject({
  id: v.string(),
  response: v.record(v.string(), v.unknown()),
});
export type InquiryResponse = v.InferOutput<typeof InquiryResponseSchema>;
