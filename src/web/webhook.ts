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
 * Order of checks: disabled (503) → size (413) → credentials (401) → content type (415) →
 * JSON (400) → fields (400) → queued (202). Callers without valid credentials learn nothing
 * about the body beyond its size.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { Elysia } from "elysia";
import type { Config } from "../config/schema.ts";
import { type Announcement, parseAnnouncement, targetOf } from "../delivery/announcement.ts";
import type { OutboxSource } from "../delivery/outbox.ts";
import { logger, registerSecret } from "../lib/log.ts";
import { decodeJson, isJson, readLimited } from "./body.ts";

const log = logger("web.webhook");

/** What the webhook needs of the outbox: a durable, synchronous enqueue. */
export interface Enqueuer {
  enqueue(a: Announcement, source: OutboxSource): number;
}

/** The `[webhook]` settings and the outbox the messages go to. */
export interface WebhookOptions {
  config: Config["webhook"];
  outbox: Enqueuer;
  /** Milliseconds since the epoch; injected for tests. */
  clock?: () => number;
  /** Most signatures remembered for replay protection (default 100,000). */
  maxSeenSignatures?: number;
}

type Reply = { status: number; body: Record<string, unknown> };

const reply = (status: number, body: Record<string, unknown>): Reply => ({ status, body });
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

/**
 * Remembers signatures until their timestamp leaves the accepted window, so each is accepted
 * once. Bounded: when full, the oldest is forgotten (a replay of it then needs it to still be
 * inside the window, i.e. more than `max` signed posts within `max_skew_seconds`).
 */
class SeenSignatures {
  private readonly seen = new Map<string, number>();
  private adds = 0;

  constructor(private readonly max: number) {}

  /** True when `sig` was accepted before and is still inside its window. */
  has(sig: string, now: number): boolean {
    const known = this.seen.get(sig);
    return known !== undefined && known >= now;
  }

  /** Records `sig` as used until `expiresAt`. */
  add(sig: string, expiresAt: number, now: number): void {
    if (this.seen.size >= this.max || ++this.adds % 1024 === 0) this.prune(now);
    this.seen.set(sig, expiresAt);
  }

  private prune(now: number): void {
    for (const [sig, expiresAt] of this.seen) {
      if (expiresAt < now || this.seen.size >= this.max) this.seen.delete(sig);
      else break;
    }
  }
}

class Authenticator {
  private readonly seen: SeenSignatures;

  constructor(
    private readonly config: Config["webhook"],
    private readonly now: () => number,
    maxSeen: number,
  ) {
    this.seen = new SeenSignatures(maxSeen);
  }

  get enabled(): boolean {
    return Boolean(this.config.token || this.config.hmac_secret);
  }

  /**
   * Checks the credentials. For a signature, `commit` marks it used: call it once the message is
   * queued (with no await in between), so a post that failed to queue can be retried as it is.
   */
  check(headers: Headers, body: Uint8Array): { ok: false } | { ok: true; commit: () => void } {
    const token = this.config.token;
    const auth = headers.get("authorization");
    if (token && auth) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      if (match && sameSecret(match[1]!, token)) return { ok: true, commit: () => {} };
    }
    return this.checkSignature(headers, body);
  }

  private checkSignature(headers: Headers, body: Uint8Array): { ok: false } | { ok: true; commit: () => void } {
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
    if (this.seen.has(key, now)) return no;
    // Only valid, accepted signatures are remembered, so forged posts cannot flush the replay set.
    return { ok: true, commit: () => this.seen.add(key, (ts + skew) * 1000, now) };
  }
}

/** Validates the body and queues it: the answer, without I/O beyond the outbox. */
function accept(body: Uint8Array, outbox: Enqueuer): Reply {
  const json = decodeJson(body);
  if (!json.ok) return reply(400, { error: json.error });
  const parsed = parseAnnouncement(json.value);
  if (!parsed.ok) return reply(400, { error: parsed.error });
  if (!targetOf(parsed.value)) return reply(400, { error: `"channel" or "user" is required` });
  try {
    return reply(202, { id: outbox.enqueue(parsed.value, "webhook") });
  } catch (err) {
    log.error("could not queue a webhook message", { error: String(err) });
    return reply(503, { error: "the message could not be queued; try again" });
  }
}

/** The webhook plugin; mount it on the server from createServer. */
export function webhookPlugin(opts: WebhookOptions) {
  const config = opts.config;
  registerSecret(config.token);
  registerSecret(config.hmac_secret);
  const auth = new Authenticator(config, opts.clock ?? Date.now, opts.maxSeenSignatures ?? 100_000);
  if (!auth.enabled) log.warn("the webhook is disabled: no webhook.token or webhook.hmac_secret is configured");

  const handle = async (request: Request): Promise<Reply> => {
    if (!auth.enabled) return DISABLED;
    const max = config.max_body_bytes;
    const tooLarge = reply(413, { error: `the body is larger than ${max} bytes` });
    const body = await readLimited(request, max);
    if (!body) return tooLarge;
    const credentials = auth.check(request.headers, body);
    if (!credentials.ok) return UNAUTHORIZED;
    if (!isJson(request.headers.get("content-type"))) {
      return reply(415, { error: "the body must be JSON (Content-Type: application/json)" });
    }
    const answer = accept(body, opts.outbox);
    // A signature is used up only by a post that was queued; a 400 or 503 may be fixed and retried.
    if (answer.status === 202) credentials.commit();
    return answer;
  };

  return new Elysia({ name: "st2bot.webhook" }).post(
    "/chatops/message",
    async ({ request, status }) => {
      const r = await handle(request);
      return status(r.status as 202, r.body);
    },
    { parse: "none" },
  );
}
