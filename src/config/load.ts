/**
 * TOML + environment → one validated Config. Every failure is a ConfigError that names the
 * file, the line and the key path, so st2bot never starts half-configured.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import * as v from "valibot";
import { parse as parseToml, TomlError } from "smol-toml";
import { editDistance } from "../lib/distance.ts";
import { ConfigError } from "../lib/errors.ts";
import { LEVELS, levelOf, registerSecret } from "../lib/log.ts";
import { type Config, ConfigSchema } from "./schema.ts";

/**
 * The chat backends' tables by name (`slack` → its schema), handed in by whoever loads the
 * config (the registry in src/chat collects them): config itself names no backend.
 */
export type BackendSections = Readonly<Record<string, v.GenericSchema>>;

/**
 * An environment value's own check, where the schema's message alone would not name the
 * variable: what is wrong with `value`, or undefined when it is fine.
 */
type EnvCheck = (value: string) => string | undefined;

/**
 * hubot-stackstorm's environment variables (and st2bot's ST2BOT_LOG_LEVEL), the key each one
 * overrides, and the check a value must pass first.
 */
export const ENV_OVERRIDES: ReadonlyArray<readonly [string, readonly string[], EnvCheck?]> = [
  ["ST2_API_URL", ["stackstorm", "api_url"]],
  ["ST2_AUTH_URL", ["stackstorm", "auth_url"]],
  ["ST2_STREAM_URL", ["stackstorm", "stream_url"]],
  ["ST2_API_KEY", ["stackstorm", "api_auth", "apikey"]],
  ["ST2_AUTH_TOKEN", ["stackstorm", "api_auth", "token"]],
  ["ST2_AUTH_USERNAME", ["stackstorm", "api_auth", "user", "name"]],
  ["ST2_AUTH_PASSWORD", ["stackstorm", "api_auth", "user", "password"]],
  ["ST2_ROUTE", ["stackstorm", "route_key"]],
  ["HUBOT_2FA", ["stackstorm", "twofactor_action"]],
  // A typo must not silence the log: refused, naming the levels there are.
  ["ST2BOT_LOG_LEVEL", ["bot", "log_level"], (value) => (levelOf(value) ? undefined : `"${value}" is not a log level; use ${LEVELS.join(", ").replace(/, (\w+)$/, " or $1")}`)],
];

type Table = Record<string, unknown>;

/**
 * Loads and validates a config file (or only defaults + environment when `file` is undefined).
 * `sections` are the chat backends' tables; a table not among them is an unknown key.
 */
export function loadConfig(file: string | undefined, env: Record<string, string | undefined> = process.env, sections: BackendSections = {}): Config {
  const text = file === undefined ? "" : readConfigText(file);
  return parseConfig(text, file ?? "<defaults>", env, sections);
}

function readConfigText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`${file}: cannot read the config file (${code ?? String(err)})`);
  }
}

/**
 * Parses config text; `name` is used in messages and to resolve relative `*_file` paths.
 * Every secret (a key `x` whose schema has an `x_file` beside it) is registered with the log
 * redaction before the Config is returned, so no part of st2bot needs to list them.
 */
export function parseConfig(text: string, name: string, env: Record<string, string | undefined> = {}, sections: BackendSections = {}): Config {
  let raw: Table;
  try {
    raw = parseToml(text) as Table;
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = err.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
      throw new ConfigError(`${name}:${err.line}:${err.column}: invalid TOML: ${reason}`);
    }
    throw new ConfigError(`${name}: invalid TOML: ${String(err)}`);
  }
  applyEnv(raw, env);
  const lines = keyLines(text);
  const schema = withSections(sections);
  const result = v.safeParse(schema, raw);
  if (!result.success) throw new ConfigError(describeIssues(result.issues, name, lines, schema));
  const config = result.output as Config;
  checkConsistency(config, name, lines);
  resolveFileSecrets(config as unknown as Table, name, fileDir(name), lines, []);
  const weak = webhookSecretProblem(config.webhook);
  if (weak) {
    const key = `webhook.${weak.split(" ")[0]!.slice("webhook.".length)}`;
    throw new ConfigError(`${where(name, lines, lines.has(key) ? key : `${key}_file`)}: ${weak}`);
  }
  // Only once the file is accepted: a refused short secret must not start redacting common words.
  registerSecrets(schema, config);
  derived.set(config, [...siblingUrls(config, raw), ...normaliseSt2Urls(config)]);
  config.bot.data_dir = dataDir(config.bot.data_dir, (raw.bot as Table | undefined)?.data_dir !== undefined, name, env);
  return config;
}

const composed = new WeakMap<BackendSections, v.GenericSchema>();

/** ConfigSchema with each backend's table added (optional, so its defaults fill in when absent). */
function withSections(sections: BackendSections): v.GenericSchema {
  let schema = composed.get(sections);
  if (!schema) {
    const clash = Object.keys(sections).find((k) => k in ConfigSchema.entries);
    if (clash) throw new Error(`a chat backend may not be called "${clash}": that table is st2bot's own`);
    const extra = Object.fromEntries(Object.entries(sections).map(([k, s]) => [k, v.optional(s, {})]));
    schema = v.strictObject({ ...ConfigSchema.entries, ...extra });
    composed.set(sections, schema);
  }
  return schema;
}

/** Registers every value whose key has an `_file` twin in the schema: by that rule, a secret. */
function registerSecrets(schema: unknown, value: unknown): void {
  const entries = (unwrap(schema) as { entries?: Record<string, unknown> }).entries;
  if (!entries || !value || typeof value !== "object") return;
  const node = value as Table;
  for (const [key, sub] of Object.entries(entries)) {
    if (`${key}_file` in entries && typeof node[key] === "string") registerSecret(node[key]);
    else registerSecrets(sub, node[key]);
  }
}

/** Shortest webhook token or HMAC secret accepted, in bytes: a guessable one opens the chat rooms. */
export const MIN_WEBHOOK_SECRET_BYTES = 32;

/** What is wrong with the webhook's token or HMAC secret (too short), or undefined. */
export function webhookSecretProblem(webhook: Config["webhook"]): string | undefined {
  for (const key of ["token", "hmac_secret"] as const) {
    const value = webhook[key];
    const bytes = value === undefined ? undefined : Buffer.byteLength(value);
    if (bytes !== undefined && bytes < MIN_WEBHOOK_SECRET_BYTES) {
      return `webhook.${key} is ${bytes} byte${bytes === 1 ? "" : "s"} long; it must be at least ${MIN_WEBHOOK_SECRET_BYTES} (generate one with: openssl rand -hex 32)`;
    }
  }
  return undefined;
}

/**
 * Where the database lives, as an absolute path, so it never depends on the working directory:
 * a relative `bot.data_dir` is resolved beside the config file; when the file does not set it
 * and systemd gave a state directory (`StateDirectory=st2bot` sets $STATE_DIRECTORY), that one.
 */
function dataDir(value: string, given: boolean, name: string, env: Record<string, string | undefined>): string {
  const state = env.STATE_DIRECTORY?.split(":")[0];
  if (!given && state) return resolve(state);
  return resolve(fileDir(name), value);
}

/**
 * A StackStorm URL st2bot changed from what was given (`given` → `used`), or, with `given`
 * undefined, one that was not set and was derived from `api_url`.
 */
export interface DerivedUrl {
  key: "api_url" | "auth_url" | "stream_url";
  given?: string;
  used: string;
}

const derived = new WeakMap<Config, DerivedUrl[]>();

/** The StackStorm URLs parseConfig completed with `/v1` (for `doctor` to say so); empty when none. */
export function derivedUrls(config: Config): readonly DerivedUrl[] {
  return derived.get(config) ?? [];
}

/**
 * hubot-stackstorm (st2chatops.env) gives `https://host/api` or `http://127.0.0.1:9101` and
 * appends the API version itself; err-stackstorm gives `https://host/api/v1`. Both work: a
 * path that does not end in `/v1` gets `/v1` appended, once; trailing slashes are dropped.
 */
export function withApiVersion(url: string): string {
  const u = new URL(url);
  const path = u.pathname.replace(/\/+$/, "");
  u.pathname = /\/v1$/.test(path) ? path : `${path}/v1`;
  return u.toString();
}

/**
 * hubot-stackstorm needs only ST2_API_URL and infers the others; so does st2bot when only
 * api_url is set: `…/api` → `…/auth`, `…/stream`; `http://host:9101` → ports 9100 and 9102.
 * Left alone when api_url has another shape (the defaults then apply, and doctor checks them).
 */
function siblingUrls(config: Config, raw: Table): DerivedUrl[] {
  const given = (raw.stackstorm ?? {}) as Table;
  if (given.api_url === undefined) return [];
  const out: DerivedUrl[] = [];
  for (const [key, part, port] of [["auth_url", "auth", "9100"], ["stream_url", "stream", "9102"]] as const) {
    if (given[key] !== undefined) continue;
    const u = new URL(config.stackstorm.api_url);
    const path = u.pathname.replace(/\/+$/, "").replace(/\/v1$/, "");
    if (/\/api$/.test(path)) u.pathname = `${path.slice(0, -"api".length)}${part}/v1`;
    else if (path === "" && u.port === "9101") [u.port, u.pathname] = [port, "/v1"];
    else continue;
    config.stackstorm[key] = u.toString();
    out.push({ key, used: u.toString() });
  }
  return out;
}

function normaliseSt2Urls(config: Config): DerivedUrl[] {
  const out: DerivedUrl[] = [];
  const s = config.stackstorm;
  for (const key of ["api_url", "auth_url", "stream_url"] as const) {
    const given = s[key];
    const used = withApiVersion(given);
    s[key] = used;
    if (!/\/v1\/*$/.test(new URL(given).pathname)) out.push({ key, given, used });
  }
  return out;
}

/** Where relative `*_file` paths are resolved: beside the config file (the working directory without one). */
const fileDir = (name: string) => (name.startsWith("<") ? process.cwd() : dirname(resolve(name)));

function applyEnv(raw: Table, env: Record<string, string | undefined>): void {
  for (const [variable, path, check] of ENV_OVERRIDES) {
    const value = env[variable];
    if (value === undefined || value === "") continue;
    const problem = check?.(value);
    if (problem) throw new ConfigError(`${variable}: ${problem}`);
    let node = raw;
    for (const key of path.slice(0, -1)) {
      if (typeof node[key] !== "object" || node[key] === null) node[key] = {};
      node = node[key] as Table;
    }
    node[path[path.length - 1]!] = value;
  }
}

/** Maps dotted key paths to the line they are defined on, for error messages. */
export function keyLines(text: string): Map<string, number> {
  const map = new Map<string, number>();
  let table: string[] = [];
  const splitKey = (s: string) =>
    [...s.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
  text.split(/\r?\n/).forEach((line, i) => {
    const header = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/.exec(line);
    if (header) {
      table = splitKey(header[1]!);
      map.set(table.join("."), i + 1);
      return;
    }
    const kv = /^\s*((?:"(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_.\s-])+?)\s*=/.exec(line);
    if (kv) map.set([...table, ...splitKey(kv[1]!)].join("."), i + 1);
  });
  return map;
}

function lineOf(lines: Map<string, number>, path: string): number | undefined {
  for (let p = path; p; p = p.includes(".") ? p.slice(0, p.lastIndexOf(".")) : "") {
    const n = lines.get(p);
    if (n !== undefined) return n;
  }
  return undefined;
}

function where(name: string, lines: Map<string, number>, path: string): string {
  const line = lineOf(lines, path);
  return line === undefined ? name : `${name}:${line}`;
}

function describeIssues(issues: v.BaseIssue<unknown>[], name: string, lines: Map<string, number>, schema: v.GenericSchema): string {
  const out = issues.slice(0, 10).map((issue) => {
    const path = issue.path?.map((p) => String(p.key)).join(".") ?? "";
    if (issue.kind === "schema" && issue.type === "strict_object" && issue.expected === "never") {
      const parentPath = path.includes(".") ? path.slice(0, path.lastIndexOf(".")) : "";
      const key = path.slice(parentPath ? parentPath.length + 1 : 0);
      const hint = suggest(key, knownKeys(schema, parentPath));
      return `${where(name, lines, path)}: unknown key "${path}"${hint ? ` (did you mean "${hint}"?)` : ""}`;
    }
    return `${where(name, lines, path)}: ${path || "(top level)"}: ${issue.message}`;
  });
  return out.join("\n");
}

/** The keys `root` allows under a dotted path, for "did you mean" hints. */
function knownKeys(root: v.GenericSchema, path: string): string[] {
  let schema: unknown = root;
  for (const key of path ? path.split(".") : []) {
    schema = unwrap(schema);
    const entries = (schema as { entries?: Record<string, unknown> }).entries;
    const rec = (schema as { type?: string; value?: unknown });
    if (entries && key in entries) schema = entries[key];
    else if (rec.type === "record") schema = rec.value;
    else return [];
  }
  const entries = (unwrap(schema) as { entries?: Record<string, unknown> }).entries;
  return entries ? Object.keys(entries) : [];
}

function unwrap(schema: unknown): unknown {
  let s = schema as { type?: string; wrapped?: unknown };
  while (s && (s.type === "optional" || s.type === "nullable") && s.wrapped) s = s.wrapped as typeof s;
  return s;
}

/** The closest known key within a small edit distance (lib/distance: a swap of two letters is one edit). */
export function suggest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase(), bestScore);
    if (d < bestScore) {
      best = c;
      bestScore = d;
    }
  }
  return best;
}

function checkConsistency(config: Config, name: string, lines: Map<string, number>): void {
  const rbac = config.stackstorm.rbac_auth;
  if (rbac.standalone && rbac.clientside) {
    throw new ConfigError(
      `${where(name, lines, "stackstorm.rbac_auth.clientside")}: stackstorm.rbac_auth: choose one of "standalone" and "clientside", not both`,
    );
  }
  const user = config.stackstorm.api_auth.user;
  if (user && !user.name) {
    throw new ConfigError(`${where(name, lines, "stackstorm.api_auth.user")}: stackstorm.api_auth.user.name is required with a password`);
  }
  if (config.stackstorm.twofactor_action && config.stackstorm.route_key === "2fa") {
    throw new ConfigError(
      `${where(name, lines, "stackstorm.route_key")}: stackstorm.route_key "2fa" is the route two-factor confirmations arrive on; choose another route_key`,
    );
  }
  const web = config.web;
  if (Boolean(web.tls_cert) !== Boolean(web.tls_key)) {
    throw new ConfigError(`${where(name, lines, "web")}: web.tls_cert and web.tls_key go together`);
  }
}

/** Fills `x` from `x_file` wherever only the file is given; the file's trailing newline is dropped. */
function resolveFileSecrets(node: Table, name: string, dir: string, lines: Map<string, number>, path: string[]): void {
  for (const [key, value] of Object.entries(node)) {
    if (value && typeof value === "object" && !Array.isArray(value) && path[0] !== "access_controls") {
      resolveFileSecrets(value as Table, name, dir, lines, [...path, key]);
    }
    if (!key.endsWith("_file") || typeof value !== "string" || ["key_file"].includes(key)) continue;
    const target = key.slice(0, -"_file".length);
    const keyPath = [...path, key].join(".");
    if (node[target] !== undefined) {
      throw new ConfigError(`${where(name, lines, keyPath)}: give either ${[...path, target].join(".")} or ${keyPath}, not both`);
    }
    try {
      node[target] = readFileSync(resolve(dir, value), "utf8").replace(/\r?\n$/, "");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new ConfigError(`${where(name, lines, keyPath)}: ${keyPath}: cannot read "${value}" (${code})`);
    }
  }
}

/** The credential st2bot itself uses, in the precedence both existing bridges use. */
export type BotCredential =
  | { kind: "apikey"; apikey: string }
  | { kind: "token"; token: string }
  | { kind: "password"; username: string; password: string }
  | { kind: "none" };

/** The bot's credential from `[stackstorm.api_auth]` (after the environment was applied). */
export function botCredential(config: Config): BotCredential {
  const auth = config.stackstorm.api_auth;
  if (auth.apikey) return { kind: "apikey", apikey: auth.apikey };
  if (auth.token) return { kind: "token", token: auth.token };
  if (auth.user?.name && auth.user.password) return { kind: "password", username: auth.user.name, password: auth.user.password };
  return { kind: "none" };
}
