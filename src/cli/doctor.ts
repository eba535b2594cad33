/**
 * `st2bot doctor`: finds what is wrong before users do. Each check prints ✓, ! (warning) or ✗
 * (error) with what to do about it; the exit code is 1 when any check failed.
 */
import { accessSync, constants, mkdirSync, statSync } from "node:fs";
import * as v from "valibot";
import type { Config } from "../config/schema.ts";
import { botCredential } from "../config/load.ts";
import { St2Client } from "../st2/client.ts";
import { St2ApiError } from "../st2/http.ts";
import { AliasIndex } from "../st2/aliases/index.ts";
import { sectionOf } from "../chat/backend.ts";
import { BACKENDS, backendNamed } from "../chat/registry.ts";

type Verdict = "ok" | "warn" | "fail";
interface Check {
  verdict: Verdict;
  what: string;
  fix?: string;
}
const mark: Record<Verdict, string> = { ok: "✓", warn: "!", fail: "✗" };

/**
 * Runs every check, printing each verdict to `io.stdout` as it comes, and resolves with the exit
 * code: 1 when any check failed, else 0 (warnings do not fail). `client` is for tests.
 */
export async function runDoctor(config: Config, io: { stdout: (s: string) => void }, client = St2Client.fromConfig(config, { timeoutMs: 5000 })): Promise<number> {
  const checks: Check[] = [];
  const add = (c: Check) => {
    checks.push(c);
    io.stdout(`${mark[c.verdict]} ${c.what}${c.fix ? `\n    → ${c.fix}` : ""}\n`);
  };
  io.stdout("st2bot doctor\n");
  add({ verdict: "ok", what: "configuration is valid" });
  checkChat(config).forEach(add);
  for (const c of await probeChat(config)) add(c);
  checkLocal(config).forEach(add);
  for await (const c of checkStackStorm(config, client)) add(c);
  const failed = checks.filter((c) => c.verdict === "fail").length;
  const warned = checks.filter((c) => c.verdict === "warn").length;
  io.stdout(`\n${failed ? `${failed} problem(s)` : "no problems"}${warned ? `, ${warned} warning(s)` : ""} found\n`);
  return failed ? 1 : 0;
}

/** The chosen backend's settings, through the same `missing` list its constructor checks. */
function checkChat(config: Config): Check[] {
  const name = config.bot.backend;
  const entry = backendNamed(name);
  if (!entry) return [{ verdict: "fail", what: `bot.backend "${name}" is not a chat backend`, fix: `use one of ${BACKENDS.map((b) => b.name).join(", ")}` }];
  const section = sectionOf(entry, config);
  const missing = entry.missing(section);
  if (missing.length) return [{ verdict: "fail", what: `chat backend "${name}" is missing settings`, fix: `set ${missing.join("; ")}` }];
  const advice = (entry.advice?.(section) ?? []).map((a): Check => ({ verdict: "warn", ...a }));
  return [{ verdict: "ok", what: `chat backend "${name}" is configured` }, ...advice];
}

/** The backend's live checks (log in, join its rooms) when it offers them and is configured. */
async function probeChat(config: Config): Promise<Check[]> {
  const entry = backendNamed(config.bot.backend);
  if (!entry?.probe || entry.missing(sectionOf(entry, config)).length) return [];
  try {
    return await entry.probe(config);
  } catch (err) {
    return [{ verdict: "fail", what: `cannot check chat backend "${entry.name}": ${err instanceof Error ? err.message : String(err)}` }];
  }
}

function checkLocal(config: Config): Check[] {
  const out: Check[] = [];
  try {
    mkdirSync(config.bot.data_dir, { recursive: true });
    accessSync(config.bot.data_dir, constants.W_OK);
    out.push({ verdict: "ok", what: `data directory ${config.bot.data_dir} is writable` });
  } catch {
    out.push({ verdict: "fail", what: `data directory ${config.bot.data_dir} is not writable`, fix: "set bot.data_dir to a directory st2bot may write" });
  }
  const wh = config.webhook;
  if (!wh.token && !wh.hmac_secret) out.push({ verdict: "warn", what: "webhook POST /chatops/message is off (no webhook.token or webhook.hmac_secret)", fix: "set webhook.token_file or webhook.hmac_secret_file to accept posts from StackStorm" });
  else out.push({ verdict: "ok", what: "webhook is authenticated" });
  if (config.stackstorm.rbac_auth.clientside) {
    if (!config.web.enabled) out.push({ verdict: "fail", what: "client-side login needs the web server, but web.enabled is false", fix: "set web.enabled = true" });
    if (config.stackstorm.secrets_store === "encrypted") out.push(checkSecretsKey(config));
  }
  return out;
}

function checkSecretsKey(config: Config): Check {
  const { key_env, key_file } = config.secrets;
  if (process.env[key_env]) return { verdict: "ok", what: `secrets key found in $${key_env}` };
  if (key_file) {
    try {
      const mode = statSync(key_file).mode;
      if (mode & 0o077) return { verdict: "fail", what: `secrets key file ${key_file} is readable by others`, fix: `chmod 600 ${key_file}` };
      return { verdict: "ok", what: `secrets key file ${key_file} is private` };
    } catch {
      return { verdict: "fail", what: `secrets key file ${key_file} cannot be read`, fix: "create it: openssl rand -base64 32 > FILE && chmod 600 FILE" };
    }
  }
  return { verdict: "fail", what: "the encrypted secrets store has no key", fix: `export ${key_env}=$(openssl rand -base64 32), or set secrets.key_file` };
}

function describe(err: unknown): string {
  if (err instanceof St2ApiError) return err.faultstring;
  return err instanceof Error ? err.message : String(err);
}

async function* checkStackStorm(config: Config, client: St2Client): AsyncGenerator<Check> {
  const cred = botCredential(config);
  if (cred.kind === "none") {
    yield { verdict: "fail", what: "no StackStorm credentials for the bot", fix: "set stackstorm.api_auth.apikey (recommended), .token, or .user.name + .password" };
    return;
  }
  yield { verdict: "ok", what: `StackStorm credential: ${client.provider.describe()}` };
  let aliases;
  try {
    aliases = await client.listAliases();
    yield { verdict: "ok", what: `StackStorm API ${config.stackstorm.api_url} answers and accepts the credential (${aliases.length} action aliases)` };
  } catch (err) {
    const status = err instanceof St2ApiError ? err.status : undefined;
    const fix = status === 0
      ? "check stackstorm.api_url, the network, and TLS settings (verify_cert, ca_cert)"
      : status === 401 ? "the credential is wrong or expired: replace it" : undefined;
    yield { verdict: "fail", what: `StackStorm API: ${describe(err)}`, fix };
    return;
  }
  const index = new AliasIndex(aliases);
  if (aliases.length === 0) yield { verdict: "warn", what: "StackStorm has no action aliases: chat users will find no commands", fix: "install a pack with aliases, e.g. st2 pack install st2" };
  for (const p of index.problems.slice(0, 20)) yield { verdict: "warn", what: `alias ${p.ref}: format "${p.format}" cannot be used: ${p.reason}` };
  yield await checkStream(config, client);
  yield await checkRule(config, client);
}

async function checkStream(config: Config, client: St2Client): Promise<Check> {
  const url = `${config.stackstorm.stream_url.replace(/\/+$/, "")}/stream?events=st2.announcement__${encodeURIComponent(config.stackstorm.route_key)}`;
  try {
    const res = await client.http.open("GET", url, { headers: await client.provider.header(), timeoutMs: 5000 });
    await res.body?.cancel();
    return { verdict: "ok", what: `StackStorm stream ${config.stackstorm.stream_url} is reachable` };
  } catch (err) {
    return { verdict: "fail", what: `StackStorm stream: ${describe(err)}`, fix: "check stackstorm.stream_url: results come back through the stream" };
  }
}

/** The parts of a StackStorm rule the notify check reads; anything else about a rule is ignored. */
const RuleSchema = v.looseObject({
  ref: v.optional(v.string()),
  name: v.optional(v.string()),
  enabled: v.optional(v.boolean()),
  trigger: v.optional(v.looseObject({ type: v.optional(v.string()) })),
  criteria: v.optional(v.record(v.string(), v.unknown())),
});
const RulesSchema = v.array(v.unknown());
const RULES_PAGE = 100;

function servesRoute(raw: unknown, route: string): v.InferOutput<typeof RuleSchema> | undefined {
  const parsed = v.safeParse(RuleSchema, raw);
  if (!parsed.success) return undefined;
  const r = parsed.output;
  const byRoute = r.criteria?.["trigger.route"];
  const pattern = typeof byRoute === "object" && byRoute !== null ? (byRoute as { pattern?: unknown }).pattern : undefined;
  return r.enabled !== false && r.trigger?.type === "core.st2.generic.notifytrigger" && pattern === route ? r : undefined;
}

/** Results only come back if a rule posts them for our route (chatops.post_result). */
async function checkRule(config: Config, client: St2Client): Promise<Check> {
  const route = config.stackstorm.route_key;
  try {
    const url = `${config.stackstorm.api_url.replace(/\/+$/, "")}/rules?enabled=true&limit=${RULES_PAGE}`;
    const res = await client.http.request("GET", url, { headers: await client.provider.header() });
    const rules = v.parse(RulesSchema, res.body);
    const found = rules.map((r) => servesRoute(r, route)).find((r) => r !== undefined);
    if (found) return { verdict: "ok", what: `rule ${found.ref ?? found.name ?? "(unnamed)"} sends results for route "${route}"` };
    // Only one page is read: among more rules than that, not finding it is not proof.
    const total = Number(res.headers.get("x-total-count") ?? rules.length);
    if (total > rules.length) {
      return { verdict: "warn", what: `no rule for route "${route}" among the first ${rules.length} of ${total} enabled StackStorm rules`, fix: "check that a chatops.post_result notify rule for this route exists (`st2bot rule` prints one)" };
    }
    return { verdict: "fail", what: `no enabled StackStorm rule sends results for route "${route}": acks will arrive but results never will`, fix: "print one with `st2bot rule` and install it in StackStorm" };
  } catch (err) {
    return { verdict: "warn", what: `could not list StackStorm rules to check route "${route}": ${describe(err)}` };
  }
}
