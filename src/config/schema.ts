/**
 * The shape of st2bot.toml. Every StackStorm key keeps err-stackstorm's name, meaning and
 * default; the schemas double as the TypeScript types the rest of st2bot imports.
 */
import { isIP } from "node:net";
import * as v from "valibot";
import { LEVELS, LOG_FORMATS } from "../lib/log.ts";

const port = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535));
const positiveSeconds = v.pipe(v.number(), v.minValue(1));
const url = v.pipe(v.string(), v.url("must be a URL such as https://st2.example.com/api/v1"));
const globs = v.union([v.string(), v.array(v.string())]);

/** Whether `entry` is an IP address or a CIDR block (`10.0.0.0/8`, `fd00::/8`). */
export function isAddressOrCidr(entry: string): boolean {
  const [ip, bits, extra] = entry.split("/");
  const family = isIP(ip ?? "");
  if (!family || extra !== undefined) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}

/** One ACL rule, Errbot's ACCESS_CONTROLS semantics. */
export const AclRuleSchema = v.strictObject({
  allowusers: v.optional(globs),
  denyusers: v.optional(globs),
  allowrooms: v.optional(globs),
  denyrooms: v.optional(globs),
  allowprivate: v.optional(v.boolean()),
  allowmuc: v.optional(v.boolean()),
  allowargs: v.optional(globs),
  denyargs: v.optional(globs),
});
export type AclRule = v.InferOutput<typeof AclRuleSchema>;

const UserAuthSchema = v.strictObject({
  name: v.optional(v.string()),
  password: v.optional(v.string()),
  password_file: v.optional(v.string()),
});

const ApiAuthSchema = v.strictObject({
  user: v.optional(UserAuthSchema),
  token: v.optional(v.string()),
  token_file: v.optional(v.string()),
  apikey: v.optional(v.string()),
  apikey_file: v.optional(v.string()),
});

const RbacAuthSchema = v.strictObject({
  standalone: v.optional(v.strictObject({})),
  clientside: v.optional(v.strictObject({ url: url })),
});

/** `[stackstorm]`: err-stackstorm's keys, names and defaults. */
export const StackStormSchema = v.strictObject({
  api_url: v.optional(url, "https://localhost/api/v1"),
  auth_url: v.optional(url, "https://localhost/auth/v1"),
  stream_url: v.optional(url, "https://localhost/stream/v1"),
  /** The web UI root used in `details available at` links when StackStorm sends none. */
  webui_url: v.optional(url),
  verify_cert: v.optional(v.boolean(), true),
  ca_cert: v.optional(v.string()),
  client_cert: v.optional(v.string()),
  client_key: v.optional(v.string()),
  secrets_store: v.optional(v.picklist(["encrypted", "cleartext"]), "encrypted"),
  api_auth: v.optional(ApiAuthSchema, {}),
  rbac_auth: v.optional(RbacAuthSchema, { standalone: {} }),
  timer_update: v.optional(positiveSeconds, 900),
  plugin_prefix: v.optional(v.string(), "st2"),
  /** Only these packs' aliases are loaded, listed and run (hubot-stackstorm #156); absent: all. */
  packs: v.optional(v.pipe(v.array(v.pipe(v.string(), v.nonEmpty("must name a pack"))), v.minLength(1, "must name at least one pack (leave it out for all)"))),
  route_key: v.optional(v.pipe(v.string(), v.nonEmpty()), "errbot"),
  /** Where inquiries with no chat origin are announced (a channel as StackStorm names it). */
  inquiry_channel: v.optional(v.string()),
  /**
   * Opt-in meaning for an inquiry's `route`: route → channel where such inquiries are also
   * announced (besides where the workflow was started), e.g. `developers = "#dev"`.
   */
  inquiry_routes: v.optional(v.record(v.string(), v.pipe(v.string(), v.nonEmpty("must name a channel"))), {}),
  /**
   * hubot-stackstorm's HUBOT_2FA: the action (`pack.name`) that asks a user to confirm, e.g. a
   * Duo push. When set, aliases with `extra.security.twofactor` run only once StackStorm
   * announces the confirmation on `st2.announcement__2fa`.
   */
  twofactor_action: v.optional(v.pipe(v.string(), v.regex(/^[^.\s]+\.[^\s]+$/, "must be an action ref such as duo.auth_push"))),
  /** Follow every alias execution's output live after its ack, as `extra.st2bot.live_output: true` does for one alias. */
  live_output: v.optional(v.boolean(), false),
  /** Seconds between edits (or messages) of live output: chat services rate-limit edits. */
  live_output_interval: v.optional(v.pipe(v.number(), v.minValue(0.05), v.maxValue(3600)), 3),
  session_ttl: v.optional(positiveSeconds, 3600),
  user_token_ttl: v.optional(positiveSeconds, 86400),
});

/** `[bot]`: Errbot's core settings. */
export const BotSchema = v.strictObject({
  /** Errbot's BOT_PREFIX. */
  prefix: v.optional(v.string(), "!"),
  /** The name people address the bot by (`@st2bot deploy ...`). */
  name: v.optional(v.string(), "st2bot"),
  backend: v.optional(v.string(), "text"),
  /** Errbot's BOT_ADMINS: globs on the sender's ACL attribute. */
  admins: v.optional(v.array(v.string()), []),
  hide_restricted_access: v.optional(v.boolean(), false),
  hide_restricted_commands: v.optional(v.boolean(), false),
  /** Where the SQLite database (outbox, sessions, secrets) lives. */
  data_dir: v.optional(v.string(), "./st2bot-data"),
  log_level: v.optional(v.picklist(LEVELS), "info"),
  log_format: v.optional(v.picklist(LOG_FORMATS), "text"),
});

/** `[web]`: the login page and webhook server. */
export const WebSchema = v.strictObject({
  enabled: v.optional(v.boolean(), true),
  host: v.optional(v.string(), "127.0.0.1"),
  port: v.optional(port, 8888),
  tls_cert: v.optional(v.string()),
  tls_key: v.optional(v.string()),
  /** When set, clients must present a certificate signed by this CA. */
  tls_client_ca: v.optional(v.string()),
  /**
   * Reverse proxies (addresses, CIDR blocks) whose forwarding header names the client, for the
   * rate limits. None by default: from any other peer the header is the client's say-so.
   */
  trusted_proxies: v.optional(v.array(v.pipe(v.string(), v.check(isAddressOrCidr, "must be an IP address or a CIDR block such as 10.0.0.0/8"))), []),
  /** The header those proxies name the client in: nginx's `X-Forwarded-For` or RFC 7239 `Forwarded`. */
  proxy_header: v.optional(v.picklist(["x-forwarded-for", "forwarded"]), "x-forwarded-for"),
});

/** `[webhook]`: `POST /chatops/message`; off unless `token` or `hmac_secret` is set. */
export const WebhookSchema = v.strictObject({
  /** Bearer token accepted in `Authorization: Bearer <token>`. */
  token: v.optional(v.string()),
  token_file: v.optional(v.string()),
  /** Shared secret for `X-St2bot-Signature: sha256=<hex hmac of "<timestamp>.<body>">`. */
  hmac_secret: v.optional(v.string()),
  hmac_secret_file: v.optional(v.string()),
  max_skew_seconds: v.optional(positiveSeconds, 300),
  max_body_bytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(64)), 65536),
  /**
   * While this many messages wait in the outbox for chat, posts get 503 with Retry-After: a
   * sender in a loop cannot grow the outbox (and the disk) without bound while chat is slow or
   * down. The stream's announcements and the bot's replies are always stored.
   */
  max_pending: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 10000),
});

/** `[secrets]`: where the encrypted store's key comes from. */
export const SecretsSchema = v.strictObject({
  /** Environment variable holding the base64 AES-256 key. */
  key_env: v.optional(v.string(), "ST2BOT_SECRETS_KEY"),
  /** File holding the key (must not be readable by group or others). */
  key_file: v.optional(v.string()),
});

/** `[outbox]`: retry and give-up timing of deliveries. */
export const OutboxSchema = v.strictObject({
  /** A message still failing after this long is kept as dead (visible, re-playable). */
  dead_after_seconds: v.optional(positiveSeconds, 3600),
  max_retry_delay_seconds: v.optional(positiveSeconds, 60),
});

const fraction = v.pipe(v.number(), v.minValue(0.05));

/**
 * `[cluster]`: several instances sharing state in Redis, one of them (the lease holder) speaking
 * to the chat service (src/cluster/). Absent: one process, SQLite only.
 */
export const ClusterSchema = v.strictObject({
  /** `redis://[user@]host:port/db` or `rediss://…` (TLS); or give `sentinels`. */
  redis_url: v.optional(v.pipe(v.string(), v.regex(/^rediss?:\/\/[^\s]+$/, "must be a URL such as redis://127.0.0.1:6379/0"))),
  /** Redis Sentinel addresses, `host:port`; with `sentinel_name`, instead of `redis_url`'s host. */
  sentinels: v.optional(v.array(v.pipe(v.string(), v.regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, "must be host:port ([v6]:port)")))),
  sentinel_name: v.optional(v.string(), "mymaster"),
  sentinel_password: v.optional(v.string()),
  sentinel_password_file: v.optional(v.string()),
  username: v.optional(v.string()),
  password: v.optional(v.string()),
  password_file: v.optional(v.string()),
  /** TLS to Redis (implied by `rediss://`): a CA file, and a client certificate and key. */
  tls: v.optional(v.boolean(), false),
  tls_ca: v.optional(v.string()),
  tls_cert: v.optional(v.string()),
  tls_key: v.optional(v.string()),
  /** Prefix of every Redis key, so several st2bot clusters can share one Redis. */
  key_prefix: v.optional(v.pipe(v.string(), v.regex(/^[\w.:-]+$/, "letters, digits, . : - _")), "st2bot"),
  /** This instance's name among its peers (default: host name and process id). */
  instance: v.optional(v.string()),
  /** How long a lease lasts without renewal: a dead leader is replaced after about this long. */
  lease_seconds: v.optional(fraction, 3),
  /** How often the leader renews; well under `lease_seconds`. */
  renew_seconds: v.optional(fraction, 1),
  /** A leader stops sending this long before its lease would end (clock drift, pauses). */
  safety_margin_seconds: v.optional(fraction, 0.5),
  /** Identical stream announcements within this window are told apart by their count (README). */
  dedupe_window_seconds: v.optional(positiveSeconds, 30),
  /**
   * A webhook's 202 waits until this many Redis replicas confirmed the message (`WAIT`), so a
   * Sentinel failover cannot lose it; 503 when they do not within `wait_timeout_seconds`.
   */
  wait_replicas: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
  wait_timeout_seconds: v.optional(fraction, 1),
  /**
   * How long one Redis command may take before st2bot gives up on it: a Redis that hangs (not
   * one that refuses) then gets a webhook 503 and a spooled announcement, not a wait forever.
   */
  command_timeout_seconds: v.optional(fraction, 2),
});

/**
 * The whole file but the chat backends' tables; every table optional, unknown keys refused.
 * Each backend declares its own `[<name>]` table (src/chat/<name>/settings.ts), and whoever
 * loads the config hands those schemas to `parseConfig`, which validates them the same way.
 */
export const ConfigSchema = v.strictObject({
  bot: v.optional(BotSchema, {}),
  stackstorm: v.optional(StackStormSchema, {}),
  web: v.optional(WebSchema, {}),
  webhook: v.optional(WebhookSchema, {}),
  secrets: v.optional(SecretsSchema, {}),
  outbox: v.optional(OutboxSchema, {}),
  /** Absent: no cluster (one process, SQLite). */
  cluster: v.optional(ClusterSchema),
  access_controls: v.optional(v.record(v.string(), AclRuleSchema), {}),
  /** Errbot's ACCESS_CONTROLS_DEFAULT: laid under whichever [access_controls] rule matches. */
  access_controls_default: v.optional(AclRuleSchema, {}),
});

/**
 * The validated config, defaults filled in. The chat backends' tables are there too, untyped
 * here: a backend reads its own through `sectionOf` (src/chat/backend.ts).
 */
export type Config = v.InferOutput<typeof ConfigSchema> & { readonly [backendTable: string]: unknown };
/** The `[stackstorm]` part of `Config`. */
export type StackStormConfig = Config["stackstorm"];
