/**
 * `POST /chatops/message`: err-stackstorm's webhook (body `{channel, message, user, whisper,
 * extra}`), authenticated, durably queued in the outbox before it answers 202.
 *
 * Credentials: `Authorization: Bearer <webhook.token>`, or an HMAC-SHA256 signature with
 * `X-St2bot-Timestamp: <unix seconds>` and `X-St2bot-Signature: sha256=<hex of
 * HMAC(webhook.hmac_secret, "<timestamp>.<raw body>")>`, within `max_skew_seconds` and never
 * twice. With neither `token` nor `hmac_secret` configured the webhook answers 503 and accepts
 * nothing: a clear "disabled" rather than a 404 an operator would mistake for a wrong URL.
 *
 * Order of checks: disabled (503) → an address with too many failed credentials (429, with
 * Retry-After) → size (413) → credentials (401) → content type (415) → the outbox holding
 * `max_pending` undelivered messages (503, with Retry-After) → JSON (400) → fields (400) →
 * queued (202). A signature is recorded as used in the database, in the transaction that
 * queues the message, so it is refused for good, across restarts. Callers without valid credentials learn nothing
 * about the body beyond its size.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { Elysia } from "elysia";
import type { Config } from "../config/schema.ts";
import { type Announcement, parseAnnouncement, targetOf } from "../delivery/announcement.ts";
import type { OutboxSource } from "../delivery/outbox.ts";
import { webhookSecretProblem } from "../config/load.ts";
import { ConfigError } from "../lib/errors.ts";
import { logger, registerSecret } from "../lib/log.ts";
import { decodeJson, isJson, readLimited } from "./body.ts";
import { SlidingWindow } from "./limits.ts";
import { peerAddress } from "./server.ts";

const log = logger("web.webhook");

/**
 * What the webhook needs of the outbox: a durable enqueue (in SQLite a promise that resolves once
 * the commit's WAL fsync returned, or the id at once after a FULL commit; in cluster mode a
 * promise that resolves once Redis confirmed). The 202 is sent only after it settled.
 */
export interface Enqueuer {
  enqueue(a: Announcement, source: OutboxSource): number | Promise<number | string>;
  /**
   * `enqueue` with `record` run in the same transaction: both are stored or neither; a throw rolls
   * back. A rejection carrying `replayed: true` means the signature was used (another instance).
   */
  enqueueWith(a: Announcement, source: OutboxSource, record: () => void): number | Promise<number | string>;
  /**
   * How many messages wait to be delivered to chat (cheap: asked on every post). Absent: no
   * backlog limit (cluster mode, whose backlog is Redis's stream).
   */
  pending?(): number;
}

/**
 * The signed posts already accepted, kept in the database (store/replay.ts) so that a replay is
 * refused after a restart too. `record` runs inside the outbox's transaction.
 */
export interface ReplayLedger {
  /** True when `signature` was accepted before and its window has not passed. */
  seen(signature: string, now: number): boolean;
  /** Records `signature` as used until `expiresAt`; false when it already was (a replay). */
  record(signature: string, expiresAt: number, now: number): boolean;
}

/** The `[webhook]` settings and the outbox the messages go to. */
export interface WebhookOptions {
  config: Config["webhook"];
  outbox: Enqueuer;
  /** Where accepted signatures are remembered; the same database as the outbox. */
  replay: ReplayLedger;
  /** The client's address (default: the server's `peerAddress`), for throttling failed credentials. */
  peerAddress?: (request: Request) => string | undefined;
  /** Milliseconds since the epoch; injected for tests. */
  clock?: () => number;
  /** Failed credentials per address per minute before it gets 429 (default 10). */
  failuresPerMinute?: number;
}

/** Seconds a sender turned away by a full outbox is told to wait before it tries again. */
const BACKLOG_RETRY_AFTER_S = 30;

/** Thrown inside the outbox transaction when the signature was used meanwhile: rolls the insert back. */
class Replayed extends Error {}

type Reply = { status: number; body: Record<string, unknown>; headers?: Record<string, string> };

const reply = (status: number, body: Record<string, unknown>, headers?: Record<string, string>): Reply => ({ status, body, headers });
const UNAUTHORIZED = reply(401, { error: "missing or invalid credentials" });
const DISABLED = reply(503, {
  error: "the webhook is disabled: set webhook.token or webhook.hmac_secret in the st2bot config",
});

/** Equal-time comparison of two strings of any length (both are hashed first). */
function sameSecret(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb);
}

type Verdict = { ok: false } | { ok: true; record?: () => void };

class Authenticator {
  constructor(
    private readonly config: Config["webhook"],
    private readonly now: () => number,
    private readonly replay: ReplayLedger,
  ) {}

  get enabled(): boolean {
    return Boolean(this.config.token || this.config.hmac_secret);
  }

  /**
   * Checks the credentials. For a signature, `record` marks it used: run it in the outbox's
   * transaction, so a post that failed to queue can be retried as it is.
   */
  check(headers: Headers, body: Uint8Array): Verdict {
    const token = this.config.token;
    const auth = headers.get("authorization");
    if (token && auth) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      if (match && sameSecret(match[1]!, token)) return { ok: true };
    }
    return this.checkSignature(headers, body);
  }

  private checkSignature(headers: Headers, body: Uint8Array): Verdict {
    const no = { ok: false } as const;
    const secret = this.config.hmac_secret;
    const timestamp = headers.get("x-st2bot-timestamp");
    const signature = headers.get("x-st2bot-signature");
    if (!secret || !timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return no;
    const match = /^sha256=([0-9a-fA-F]{64})$/.exec(signature.trim());
    if (!match) return no;
    const now = this.now();
    const skew = this.config.max_skew_seconds;
    const ts = Number(timestamp);
    if (Math.abs(now / 1000 - ts) > skew) return no;
    const expected = createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest();
    if (!timingSafeEqual(expected, Buffer.from(match[1]!, "hex"))) return no;
    const key = match[1]!.toLowerCase();
    if (this.replay.seen(key, now)) return no;
    // Only valid, accepted signatures are recorded, so forged posts cannot fill the ledger.
    const record = () => {
      if (!this.replay.record(key, (ts + skew) * 1000, now)) throw new Replayed();
    };
    return { ok: true, record };
  }
}

/** Validates the body and queues it (with the signature's replay record): the answer, without I/O beyond the outbox. */
async function accept(body: Uint8Array, outbox: Enqueuer, record: (() => void) | undefined): Promise<Reply> {
  const json = decodeJson(body);
  if (!json.ok) return reply(400, { error: json.error });
  const parsed = parseAnnouncement(json.value);
  if (!parsed.ok) return reply(400, { error: parsed.error });
  if (!targetOf(parsed.value)) return reply(400, { error: `"channel" or "user" is required` });
  try {
    const id = await (record ? outbox.enqueueWith(parsed.value, "webhook", record) : outbox.enqueue(parsed.value, "webhook"));
    return reply(202, { id });
  } catch (err) {
    if (err instanceof Replayed || (err as { replayed?: unknown }).replayed === true) return UNAUTHORIZED;
    log.error("could not queue a webhook message", { error: String(err) });
    return reply(503, { error: "the message could not be queued; try again" });
  }
}

/** The webhook plugin; mount it on the server from createServer. */
export function webhookPlugin(opts: WebhookOptions) {
  const config = opts.config;
  registerSecret(config.token);
  registerSecret(config.hmac_secret);
  const short = webhookSecretProblem(config);
  if (short) throw new ConfigError(short);
  const now = opts.clock ?? Date.now;
  const auth = new Authenticator(config, now, opts.replay);
  const addressOf = opts.peerAddress ?? peerAddress;
  const failures = new SlidingWindow(opts.failuresPerMinute ?? 10, 60_000);
  if (!auth.enabled) log.warn("the webhook is disabled: no webhook.token or webhook.hmac_secret is configured");
  let warnedAt = -Infinity;
  /** The 503 of a full outbox; logged at most once a minute (a sender in a loop would flood the log). */
  const backlogFull = (pending: number): Reply => {
    if (now() - warnedAt >= 60_000) {
      warnedAt = now();
      log.warn("webhook posts refused: the outbox is full (webhook.max_pending)", { pending, max_pending: config.max_pending });
    }
    return reply(503, { error: `st2bot holds ${pending} messages not yet delivered to chat; try again later` }, { "retry-after": String(BACKLOG_RETRY_AFTER_S) });
  };

  const handle = async (request: Request): Promise<Reply> => {
    if (!auth.enabled) return DISABLED;
    // An address that keeps failing is turned away before any work: guessing costs it time.
    const address = addressOf(request) ?? "unknown";
    const wait = failures.blocked(address, now());
    if (wait !== undefined) return reply(429, { error: "too many failed attempts; try again later" }, { "retry-after": String(wait) });
    const max = config.max_body_bytes;
    const tooLarge = reply(413, { error: `the body is larger than ${max} bytes` });
    const body = await readLimited(request, max);
    if (!body) return tooLarge;
    const credentials = auth.check(request.headers, body);
    if (!credentials.ok) {
      failures.take(address, now());
      return UNAUTHORIZED;
    }
    if (!isJson(request.headers.get("content-type"))) {
      return reply(415, { error: "the body must be JSON (Content-Type: application/json)" });
    }
    const pending = opts.outbox.pending?.() ?? 0;
    if (pending >= config.max_pending) return backlogFull(pending);
    // A signature is used up only by a post that was queued; a 400 or 503 may be fixed and retried.
    const answer = await accept(body, opts.outbox, credentials.record);
    if (answer.status === 401) failures.take(address, now());
    return answer;
  };

  return new Elysia({ name: "st2bot.webhook" }).post(
    "/chatops/message",
    async ({ request, status, set }) => {
      const r = await handle(request);
      Object.assign(set.headers, r.headers);
      return status(r.status as 202, r.body);
    },
    { parse: "none" },
  );
}
