/** The emulator's public shapes: its options, what it records, and the actions it knows. */

/** An alias as a test or the demo hands it over: StackStorm's alias fields, id/ref/uid optional. */
export interface AliasInput {
  name: string;
  pack: string;
  action_ref: string;
  formats: (string | { display?: string | null; representation?: string[]; match_multiple?: boolean | null })[];
  id?: string;
  ref?: string;
  uid?: string;
  description?: string | null;
  enabled?: boolean;
  ack?: { enabled?: boolean | null; format?: string | null; extra?: Record<string, unknown> | null; append_url?: boolean | null } | null;
  result?: { enabled?: boolean | null; format?: string | null; extra?: Record<string, unknown> | null } | null;
  extra?: Record<string, unknown> | null;
  immutable_parameters?: Record<string, unknown> | null;
  [key: string]: unknown;
}

/**
 * An alias as the emulator stores and serves it: id, ref and uid filled in. The alias
 * engine's `ActionAlias` (src/st2/aliases/types.ts) is assignable to `AliasInput`.
 */
export type StoredAlias = AliasInput & { id: string; ref: string; uid: string; enabled: boolean; description: string };

/** An action parameter as far as casting goes (`type` from the action's metadata). */
export interface ParamSpec {
  type?: "string" | "integer" | "number" | "boolean" | "array" | "object";
  default?: unknown;
}

/** What the emulator knows of an action: its runner (for the result template) and parameters. */
export interface ActionSpec {
  ref: string;
  runner: string;
  description?: string;
  parameters?: Record<string, ParamSpec>;
  /** How long it runs before completing; default the emulator's `completionDelayMs`. */
  durationMs?: number;
  /** A plausible outcome for these parameters (the demo's fake stdout and friends). */
  complete?: (parameters: Record<string, unknown>) => Completion;
  /**
   * For an Orquesta workflow (runner `orquesta`): its `core.ask` tasks, requested in parallel as
   * it starts. It pauses until every one is answered, then completes like any execution.
   */
  asks?: AskSpec[];
  /**
   * What the action prints while it runs: the execution goes `running`, writes one piece every
   * `intervalMs` (default 50) to the execution's output (stream and catch-up read), and finishes
   * after the last one (its default result's stdout is all of it).
   */
  output?: { pieces: string[]; intervalMs?: number; type?: "stdout" | "stderr" };
}

/** One `core.ask` task of a workflow: the task's name and what it passes to `core.ask`. */
export interface AskSpec extends InquirySpec {
  task: string;
}

/** How an execution ends. */
export interface Completion {
  status: "succeeded" | "failed" | "timeout" | "canceled" | "abandoned";
  result: unknown;
}

/** How a request authenticated. `user` is the st2 user behind a valid credential. */
export interface CredentialUse {
  kind: "token" | "api-key";
  location: "header" | "query" | "cookie";
  value: string;
  user?: string;
}

/** One request as the emulator received it; `status` is filled in once answered. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
  credential?: CredentialUse;
  status?: number;
  at: Date;
}

/** An execution the emulator created, with what a bridge sent to create it. */
export interface EmulatedExecution {
  id: string;
  liveactionId: string;
  action: ActionSpec;
  alias?: StoredAlias;
  parameters: Record<string, unknown>;
  /** The st2 user the credential authenticated as (`context.user`). */
  user: string;
  /** The chat user named in the request body (`context.api_user`, notify data `user`). */
  apiUser?: string;
  sourceChannel?: string;
  sourceContext?: unknown;
  /** `notification_route`, else `notification_channel`; undefined → never announced. */
  notifyRoute?: string;
  status: string;
  result?: unknown;
  startedAt: Date;
  endedAt?: Date;
  /** Set for inquiries (runner `inquirer`). */
  inquiry?: InquirySpec & { response?: Record<string, unknown> };
  /** The workflow execution this one is a task of (`parent` in StackStorm's record). */
  parentId?: string;
  /** The context StackStorm gave a workflow's task execution; replaces the alias-based one. */
  context?: Record<string, unknown>;
}

/** A pending question for chat users. `schema` is draft-4 JSON Schema. */
export interface InquirySpec {
  schema?: Record<string, unknown>;
  users?: string[];
  roles?: string[];
  route?: string;
  ttl?: number;
}

/** A token the auth service issued. */
export interface IssuedToken {
  id: string;
  token: string;
  user: string;
  expiry: Date;
}

export interface EmulatorOptions {
  /** Port to listen on on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  aliases?: AliasInput[];
  /** Actions the aliases point at; unknown refs run as a generic python action. */
  actions?: ActionSpec[];
  /** username → password for `POST /auth/v1/tokens`. Default `{st2admin: "Ch@ngeMe"}`. */
  users?: Record<string, string>;
  /** Valid API keys: a list (owned by st2admin) or key → owning user. */
  apiKeys?: string[] | Record<string, string>;
  /** Users exempt from the 100-per-page cap (RBAC admins). Default `["st2admin"]`. */
  admins?: string[];
  /** Largest token ttl in seconds (st2's `auth.token_ttl`). Default 86400. */
  maxTokenTtl?: number;
  /** Stream heartbeat period. Default 25000 (StackStorm's). */
  heartbeatMs?: number;
  /** Base of `execution.web_url`. Default: the emulator's own URL. */
  webuiUrl?: string;
  /** Delay before an execution finishes. Default 20 ms. */
  completionDelayMs?: number;
  /** Decides how executions end; default: the action's `complete`, else a generic success. */
  complete?: (execution: EmulatedExecution) => Completion;
  /** RBAC for executions: false → 403 as StackStorm's RBAC would answer. Default: all allowed. */
  canExecute?: (user: string, actionRef: string) => boolean;
  /** What `GET /api/v1/rules` lists. Default: the chatops pack's notify rules (routes errbot and hubot). */
  rules?: Record<string, unknown>[];
  /** Called for every request before it is handled (the tests' OpenAPI validator). */
  onRequest?: (req: RecordedRequest) => void;
  /**
   * Called first thing when a request arrives, before its body is read (benchmarks stamp the
   * moment an execution request reaches StackStorm). Opt-in; nothing is done without it.
   */
  onArrival?: (method: string, path: string) => void;
  /** No log lines (the demo prints its own). Default true. */
  quiet?: boolean;
}
