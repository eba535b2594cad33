/**
 * `st2bot doctor`'s StackStorm checks: the URLs, the credential, the API, the stream and the
 * notify rule. A ✓ means the thing really works (an event stream answered, not just any
 * server); every ✗ names the URL and the HTTP status it saw and says what to do.
 */
import * as v from "valibot";
import type { Config } from "../config/schema.ts";
import { botCredential } from "../config/load.ts";
import type { St2Client } from "../st2/client.ts";
import { faultOf, St2ApiError } from "../st2/http.ts";
import { AliasIndex } from "../st2/aliases/index.ts";
import { packsWithoutAliases } from "../st2/packs.ts";
import { stockRuleFor } from "./rule.ts";
import { describeError } from "../lib/errors.ts";

/** One verdict of the doctor; `fix` says what to do (shown under a ✗ or a !). */
export interface Check {
  verdict: "ok" | "warn" | "fail";
  what: string;
  fix?: string;
}

type UrlKey = "api_url" | "auth_url" | "stream_url";
const URL_KEYS: UrlKey[] = ["api_url", "auth_url", "stream_url"];
/** Where StackStorm serves each part, for hints: behind its nginx, or each service's own port. */
const WHERE: Record<UrlKey, string> = {
  api_url: "https://HOST/api/v1 (behind StackStorm's nginx) or http://HOST:9101/v1",
  auth_url: "https://HOST/auth/v1 or http://HOST:9100/v1",
  stream_url: "https://HOST/stream/v1 or http://HOST:9102/v1",
};

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;

/** Plain-HTTP StackStorm URLs: verify_cert does nothing for them, and off this host the credential travels in clear. */
export function checkUrls(config: Config): Check[] {
  const s = config.stackstorm;
  const out: Check[] = [];
  const plain = URL_KEYS.filter((k) => new URL(s[k]).protocol === "http:");
  for (const key of plain) {
    const host = new URL(s[key]).hostname;
    if (LOOPBACK.test(host)) continue;
    out.push({
      verdict: "warn",
      what: `stackstorm.${key} ${s[key]} is plain http:// to ${host}: verify_cert does not apply and the bot's credential crosses the network unencrypted`,
      fix: `use https:// (${WHERE[key].split(" or ")[0]})`,
    });
  }
  if (!s.verify_cert && plain.length === URL_KEYS.length) {
    out.push({ verdict: "warn", what: "stackstorm.verify_cert = false has no effect: every StackStorm URL is http://", fix: "remove it, or use https:// URLs" });
  }
  return out;
}

/** The StackStorm checks in order; stops at the first one the rest depend on. */
export async function* checkStackStorm(config: Config, client: St2Client): AsyncGenerator<Check> {
  if (botCredential(config).kind === "none") {
    yield {
      verdict: "fail",
      what: "no StackStorm credential for the bot (st2bot run refuses to start without one)",
      fix: "set stackstorm.api_auth.apikey (or ST2_API_KEY; recommended), .token (ST2_AUTH_TOKEN), or .user.name + .password (ST2_AUTH_USERNAME + ST2_AUTH_PASSWORD)",
    };
    return;
  }
  yield { verdict: "ok", what: `StackStorm credential: ${client.provider.describe()}` };
  let aliases;
  try {
    aliases = await client.listAliases();
    yield { verdict: "ok", what: `StackStorm API ${client.urls.api} answers and accepts the credential (${aliases.length} action aliases)` };
  } catch (err) {
    yield explain(err, config, client);
    return;
  }
  const index = new AliasIndex(aliases);
  if (aliases.length === 0) yield { verdict: "warn", what: "StackStorm has no action aliases: chat users will find no commands", fix: "install a pack with aliases, e.g. st2 pack install st2" };
  for (const pack of packsWithoutAliases(config.stackstorm.packs, aliases)) {
    yield { verdict: "warn", what: `stackstorm.packs names "${pack}", but StackStorm has no action aliases in that pack`, fix: "check the name (st2 pack list) or install the pack" };
  }
  for (const p of index.problems.slice(0, 20)) yield { verdict: "warn", what: `alias ${p.ref}: format "${p.format}" cannot be used: ${p.reason}` };
  yield await checkStream(config, client);
  yield* await checkRules(config, client);
}

/** Which configured URL a failed path belongs to, and the full URL (query left out). */
function located(path: string, config: Config): { key: UrlKey; url: string } {
  const s = config.stackstorm;
  const key = URL_KEYS.find((k) => path.startsWith(new URL(s[k]).pathname)) ?? "api_url";
  return { key, url: `${new URL(s[key]).origin}${path}` };
}

/** A failed StackStorm request as a ✗ that names the URL, the status and what to do. */
export function explain(err: unknown, config: Config, client: St2Client): Check {
  if (!(err instanceof St2ApiError)) return { verdict: "fail", what: `StackStorm check failed: ${describeError(err)}` };
  const { key, url } = located(err.path, config);
  const { status, faultstring } = err;
  if (status === 0) {
    if (/EPROTO|ECONNRESET|wrong version/i.test(faultstring) && url.startsWith("https:")) {
      return {
        verdict: "fail",
        what: `${url}: the server answered in plain HTTP to an https:// URL (${faultstring})`,
        fix: `use http:// in stackstorm.${key}, or the port where StackStorm serves TLS (${WHERE[key]})`,
      };
    }
    const tls = /certificate|CERT|SELF_SIGNED|ISSUER|HOSTNAME/i.test(faultstring);
    return {
      verdict: "fail",
      what: `no answer from ${url}: ${faultstring}`,
      fix: tls
        ? "trust StackStorm's certificate: set stackstorm.ca_cert to its CA bundle (or verify_cert = false, for StackStorm only)"
        : `check stackstorm.${key} (${WHERE[key]}), that StackStorm runs, and the network between`,
    };
  }
  const what = `StackStorm answered ${status} at ${url}${faultstring ? ` (${faultstring})` : ""}`;
  if (status === 401) return { verdict: "fail", what: `${what}: it refused the ${client.provider.describe()}`, fix: "the credential is wrong, expired or revoked: replace it (st2 apikey create -k gives a new API key)" };
  if (status === 404) return { verdict: "fail", what, fix: `is stackstorm.${key} right? StackStorm answers at ${WHERE[key]}` };
  if (status >= 200 && status < 300) return { verdict: "fail", what, fix: `stackstorm.${key} does not point at StackStorm (${WHERE[key]})` };
  return { verdict: "fail", what, fix: status >= 500 ? "StackStorm failed: see its logs (st2api, st2auth, st2stream)" : `check stackstorm.${key} and the credential` };
}

/** The stream counts only if it answers 200 with `text/event-stream`, as StackStorm's does. */
async function checkStream(config: Config, client: St2Client): Promise<Check> {
  const base = `${client.urls.stream}/stream`;
  const url = `${base}?events=st2.announcement__${encodeURIComponent(config.stackstorm.route_key)}`;
  let res: Response;
  try {
    res = await client.http.open("GET", url, { headers: { ...(await client.provider.header()), Accept: "text/event-stream" }, timeoutMs: 5000 });
  } catch (err) {
    return explain(err, config, client);
  }
  const type = res.headers.get("content-type") ?? "";
  if (res.status === 200 && type.startsWith("text/event-stream")) {
    await res.body?.cancel();
    return { verdict: "ok", what: `StackStorm stream ${base} sends events` };
  }
  const text = await res.text().catch(() => "");
  if (res.status !== 200) return explain(new St2ApiError(res.status, faultOf(text, res), "GET", new URL(base).pathname), config, client);
  return {
    verdict: "fail",
    what: `${base} answered 200 with ${type || "no content type"}, not an event stream (text/event-stream): results would never arrive`,
    fix: `point stackstorm.stream_url at StackStorm's stream (${WHERE.stream_url})`,
  };
}

/** The parts of a StackStorm rule the notify check reads; anything else about a rule is ignored. */
const RuleSchema = v.looseObject({
  ref: v.optional(v.string()),
  name: v.optional(v.string()),
  enabled: v.optional(v.boolean()),
  trigger: v.optional(v.looseObject({ type: v.optional(v.string()) })),
  criteria: v.optional(v.record(v.string(), v.unknown())),
});
const RULES_PAGE = 100;

function servesRoute(raw: unknown, route: string): string | undefined {
  const parsed = v.safeParse(RuleSchema, raw);
  if (!parsed.success) return undefined;
  const r = parsed.output;
  const byRoute = r.criteria?.["trigger.route"];
  const pattern = typeof byRoute === "object" && byRoute !== null ? (byRoute as { pattern?: unknown }).pattern : undefined;
  const serves = r.enabled !== false && r.trigger?.type === "core.st2.generic.notifytrigger" && pattern === route;
  return serves ? (r.ref ?? r.name ?? "(unnamed)") : undefined;
}

/** Results come back only if exactly one rule posts them for our route (two post everything twice). */
async function checkRules(config: Config, client: St2Client): Promise<Check[]> {
  const route = config.stackstorm.route_key;
  let rules: unknown[];
  let total: number;
  try {
    const url = `${client.urls.api}/rules?enabled=true&limit=${RULES_PAGE}`;
    const res = await client.http.request("GET", url, { headers: await client.provider.header() });
    rules = v.parse(v.array(v.unknown()), res.body);
    total = Number(res.headers.get("x-total-count") ?? rules.length);
  } catch (err) {
    const why = explain(err, config, client);
    return [{ verdict: "warn", what: `could not list StackStorm rules to check route "${route}": ${why.what}` }];
  }
  const serving = rules.map((r) => servesRoute(r, route)).filter((r): r is string => r !== undefined);
  if (serving.length > 1) {
    const stock = stockRuleFor(route);
    const keep = stock && serving.includes(stock) ? stock : serving[0]!;
    return [{
      verdict: "warn",
      what: `${serving.length} enabled rules send results for route "${route}" (${serving.join(", ")}): every result is posted ${serving.length} times`,
      fix: `keep one: ${serving.filter((r) => r !== keep).map((r) => `st2 rule disable ${r}`).join("; ")}`,
    }];
  }
  if (serving.length === 1) return [{ verdict: "ok", what: `rule ${serving[0]} sends results for route "${route}"` }];
  // Only one page is read: among more rules than that, not finding it is not proof.
  if (total > rules.length) {
    return [{ verdict: "warn", what: `no rule for route "${route}" among the first ${rules.length} of ${total} enabled StackStorm rules`, fix: "check that a chatops.post_result notify rule for this route exists (`st2bot rule` prints one)" }];
  }
  return [{ verdict: "fail", what: `no enabled StackStorm rule sends results for route "${route}": acks will arrive but results never will`, fix: "print one with `st2bot rule` and install it in StackStorm" }];
}
