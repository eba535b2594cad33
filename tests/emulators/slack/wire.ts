/**
 * The Slack emulator's wire shapes: fixtures, what the workspace records (posts, ephemerals,
 * API calls), Socket Mode envelopes, Slack's error type, and how a Web API request's arguments
 * are decoded and checked (form, JSON or query; Slack's error codes). The server is index.ts.
 */
import type { ServerWebSocket } from "bun";

/** A workspace member (or bot user). */
export interface SlackUserFixture {
  id: string;
  name: string;
  real_name?: string;
  display_name?: string;
  email?: string;
  is_bot?: boolean;
  deleted?: boolean;
}

/** A channel the workspace starts with. */
export interface SlackChannelFixture {
  id: string;
  name: string;
  is_private?: boolean;
  is_archived?: boolean;
  /** User ids in the channel; the bot can only post where it is a member. */
  members: string[];
}

/** The workspace: tokens, bot, users, channels, and the behaviours a test may switch. */
export interface SlackEmulatorOptions {
  botToken?: string;
  appToken?: string;
  bot?: { id: string; name: string; botId: string };
  users?: SlackUserFixture[];
  channels?: SlackChannelFixture[];
  /** Largest page users.list / conversations.list return, whatever `limit` asks (forces paging). */
  maxPageSize?: number;
  /** Slack's 3 s ack deadline; lowered only by tests of the deadline itself. */
  ackTimeoutMs?: number;
  /** Slack echoes the bot's own posts as `message` events (bot_id set); on by default. */
  echoBotMessages?: boolean;
  /** Scopes the bot token lacks (`groups:read`, `mpim:read`, `im:read`, `users:read`). */
  missingScopes?: string[];
}

/** What chat.postEphemeral accepted: shown to `user` alone. */
export interface EphemeralMessage {
  channel: string;
  user: string;
  text: string;
  thread_ts?: string;
}

/** What chat.postMessage accepted, as the workspace stored it. */
export interface PostedMessage {
  /** The conversation id the message landed in (a `D…` id for a DM). */
  channel: string;
  ts: string;
  thread_ts?: string;
  text?: string;
  attachments?: Record<string, unknown>[];
  blocks?: Record<string, unknown>[];
  /** Every argument as the emulator decoded it (arrays parsed from their JSON strings). */
  args: Record<string, unknown>;
  /** How many times chat.update changed it. */
  edits?: number;
}

/** One Web API call as the emulator saw it (token redacted). */
export interface ApiCall {
  method: string;
  args: Record<string, unknown>;
  /** The HTTP status the emulator answered with. */
  status: number;
  error?: string;
  /** When the call arrived (ms since the epoch). */
  at: number;
}

/** A Socket Mode envelope awaiting its ack. */
export interface Envelope {
  envelope_id: string;
  type: "events_api" | "interactive";
  payload: Record<string, unknown>;
  accepts_response_payload: boolean;
  retry_attempt: number;
  retry_reason: string;
}

/** Per-WebSocket state of a Socket Mode connection. */
export interface SocketData {
  id: number;
  ticket: string;
  draining: boolean;
}

/** A Socket Mode connection. */
export type Ws = ServerWebSocket<SocketData>;
/** A Web API call's decoded arguments. */
export type Args = Record<string, unknown>;
/** A Web API answer before it is serialised. */
export type Answer = { status?: number; headers?: Record<string, string>; body: Record<string, unknown> };

/** A Web API refusal: `{ok:false, error}` plus any extra fields. */
export class ApiError extends Error {
  constructor(readonly error: string, readonly extra: Record<string, unknown> = {}) {
    super(error);
  }
}

/** The emulated team. */
export const TEAM = { id: "T0EMULATE", name: "Emulated", domain: "emulated" };
/** The app id Socket Mode envelopes carry. */
export const APP_ID = "A0ST2BOT";

/** The default workspace: the bot, two people, a public, a private and a channel without the bot. */
export function defaultWorkspace(): Required<Pick<SlackEmulatorOptions, "bot" | "users" | "channels">> {
  const bot = { id: "U0BOT", name: "st2bot", botId: "B0BOT" };
  return {
    bot,
    users: [
      { id: bot.id, name: bot.name, real_name: "StackStorm", display_name: "", is_bot: true },
      { id: "U0ALICE", name: "alice", real_name: "Alice Liddell", display_name: "Alice", email: "alice@example.com" },
      { id: "U0BOB", name: "bob", real_name: "Bob Builder", display_name: "bobby", email: "bob@example.com" },
      { id: "W0CAROL", name: "carol", real_name: "Carol Grid", display_name: "carol" },
    ],
    channels: [
      { id: "C0GENERAL", name: "general", members: [bot.id, "U0ALICE", "U0BOB"] },
      { id: "C0OPS", name: "ops", is_private: true, members: [bot.id, "U0ALICE"] },
      { id: "C0RANDOM", name: "random", members: ["U0ALICE"] },
      { id: "C0SECRET", name: "secret", is_private: true, members: ["U0BOB"] },
    ],
  };
}


// ---- request decoding -----------------------------------------------------------------------

/** A request's arguments (query, then a form or JSON body) and a `token` given as an argument (never from JSON). */
export async function parseBody(req: Request, url: URL): Promise<{ args: Args; bodyToken?: string }> {
  const args: Args = Object.fromEntries(url.searchParams);
  if (req.method === "POST") {
    const type = req.headers.get("content-type") ?? "";
    const raw = await req.text();
    if (type.startsWith("application/json")) {
      if (raw !== "") {
        const json: unknown = JSON.parse(raw);
        if (!json || typeof json !== "object" || Array.isArray(json)) throw new ApiError("invalid_json");
        Object.assign(args, json);
      }
      // Slack never reads a token from a JSON body: it must come in the Authorization header.
      delete args.token;
      return { args };
    }
    if (raw !== "") Object.assign(args, Object.fromEntries(new URLSearchParams(raw)));
  }
  const bodyToken = typeof args.token === "string" ? args.token : undefined;
  delete args.token;
  return { args, ...(bodyToken ? { bodyToken } : {}) };
}

/** The token of a call: the `Authorization: Bearer` header, else the `token` argument. */
export function tokenOf(req: Request, parsed: { bodyToken?: string }): string | undefined {
  const auth = req.headers.get("authorization");
  const bearer = auth && /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
  return bearer || parsed.bodyToken;
}

/** The arguments without `token`, for the recorded call. */
export function redactToken(args: Args): Args {
  const { token: _token, ...rest } = args;
  return rest;
}

/** The conversation's type as the emulator's listings name it: `im`, `group` (private) or `channel`. */
export function channelType(c: { is_im?: boolean; is_private?: boolean }): string {
  if (c.is_im) return "im";
  return c.is_private ? "group" : "channel";
}

/** An optional string argument. */
export function optString(args: Args, key: string): string | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw invalidArgument(key, "must provide a string");
  return v;
}

/** A string argument; absent or empty → `missingError`. */
export function requireString(args: Args, key: string, missingError: string): string {
  const v = optString(args, key);
  if (v === undefined || v === "") throw new ApiError(missingError);
  return v;
}

/** An optional integer argument (`invalid_arguments` when not one). */
export function optInt(args: Args, key: string): number | undefined {
  const v = args[key];
  if (v === undefined || v === null || v === "") return undefined;
  const n = typeof v === "number" ? v : typeof v === "string" && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n)) throw invalidArgument(key, "must provide an integer");
  return n;
}

/** A boolean argument (`true` or `1`, as text or value); absent is false. */
export function optBool(args: Args, key: string): boolean {
  const v = args[key];
  return v === true || v === "true" || v === "1" || v === 1;
}

/** attachments/blocks arrive as JSON strings in form bodies and as arrays in JSON bodies. */
export function jsonArray(args: Args, key: string, error: string): Record<string, unknown>[] | undefined {
  let v = args[key];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v === "string") {
    try {
      v = JSON.parse(v);
    } catch {
      throw new ApiError(error, { response_metadata: { messages: [`[ERROR] invalid JSON [json-pointer:/${key}]`] } });
    }
  }
  if (!Array.isArray(v) || v.some((x) => !x || typeof x !== "object" || Array.isArray(x))) {
    throw new ApiError(error, { response_metadata: { messages: [`[ERROR] must provide an array of objects [json-pointer:/${key}]`] } });
  }
  args[key] = v;
  return v as Record<string, unknown>[];
}

const BLOCK_TYPES = new Set(["section", "divider", "header", "context", "actions", "image", "rich_text", "input", "markdown", "file", "video"]);

/** Slack's `invalid_blocks` checks for one block. */
export function checkBlock(block: Record<string, unknown>, i: number): void {
  if (typeof block.type !== "string" || !BLOCK_TYPES.has(block.type)) {
    throw new ApiError("invalid_blocks", { errors: [`unsupported type: ${String(block.type)} [json-pointer:/blocks/${i}/type]`] });
  }
  if (block.type === "section" && block.text === undefined && block.fields === undefined) {
    throw new ApiError("invalid_blocks", { errors: [`must provide text or fields [json-pointer:/blocks/${i}]`] });
  }
}

function invalidArgument(key: string, what: string): ApiError {
  return new ApiError("invalid_arguments", { response_metadata: { messages: [`[ERROR] ${what} [json-pointer:/${key}]`] } });
}
