/**
 * `st2bot doctor` for Discord: is the token valid (`GET /users/@me`, the bot's name), is the
 * gateway reachable (`GET /gateway/bot`, then its WebSocket's HELLO; no IDENTIFY, so no session
 * start of the day's quota is spent), and is the bot in `discord.guild` when that is set.
 */
import * as v from "valibot";
import type { Config } from "../../config/schema.ts";
import type { DoctorCheck } from "../backend.ts";
import { requireSection } from "../backend.ts";
import { describe } from "./errors.ts";
import { discord } from "./settings.ts";

const TIMEOUT_MS = 10_000;

const MeSchema = v.object({ id: v.string(), username: v.string(), bot: v.optional(v.boolean()) });
const GatewaySchema = v.object({
  url: v.string(),
  session_start_limit: v.optional(v.object({ total: v.number(), remaining: v.number(), reset_after: v.number() })),
});
const GuildSchema = v.object({ id: v.string(), name: v.string() });

/** A failed step: its finding ends the probe. */
class Stop extends Error {
  constructor(readonly check: DoctorCheck) {
    super(check.what);
  }
}

const TOKEN_FIX = "reset the token in the developer portal (your app → Bot → Reset Token) and set discord.token or discord.token_file";

/** The live checks; never throws (a failure is a finding). `fetchFn` is for tests. */
export async function probeDiscord(config: Config, fetchFn: typeof fetch = fetch): Promise<DoctorCheck[]> {
  const s = requireSection(discord, config);
  const token = s.token!.replace(/^Bot\s+/i, ""); // requireSection checked it; the backend strips the prefix too
  const api = s.api_url.replace(/\/+$/, "");
  const get = async <S extends v.GenericSchema>(path: string, schema: S): Promise<{ status: number; body?: v.InferOutput<S> }> => {
    let res: Response;
    try {
      res = await fetchFn(`${api}/v10${path}`, { headers: { Authorization: `Bot ${token}`, "User-Agent": "DiscordBot (st2bot doctor)" }, signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (err) {
      throw new Stop({ verdict: "fail", what: `Discord: cannot reach ${api}: ${describe(err)}`, fix: "check discord.api_url (https://discord.com/api) and the network" });
    }
    if (res.status === 401) throw new Stop({ verdict: "fail", what: `Discord: ${api} refused the bot token (401 on GET ${path})`, fix: TOKEN_FIX });
    if (!res.ok) return { status: res.status };
    const parsed = v.safeParse(schema, await res.json().catch(() => undefined));
    if (!parsed.success) throw new Stop({ verdict: "fail", what: `Discord: unexpected answer to GET ${path} from ${api}`, fix: "check discord.api_url (https://discord.com/api)" });
    return { status: res.status, body: parsed.output };
  };
  try {
    const me = await get("/users/@me", MeSchema);
    if (!me.body) return [{ verdict: "fail", what: `Discord: GET /users/@me answered HTTP ${me.status}`, fix: "check discord.api_url, and try again later" }];
    const out: DoctorCheck[] = [{ verdict: "ok", what: `Discord: the token belongs to the bot ${me.body.username} (<@${me.body.id}>)` }];
    if (me.body.bot === false) out.push({ verdict: "fail", what: `Discord: ${me.body.username} is a user account, not a bot`, fix: TOKEN_FIX });
    out.push(await gateway(await get("/gateway/bot", GatewaySchema)));
    if (s.guild) {
      const g = await get(`/guilds/${s.guild}`, GuildSchema);
      out.push(
        g.body
          ? { verdict: "ok", what: `Discord: the bot is in the server ${g.body.name} (discord.guild)` }
          : { verdict: "fail", what: `Discord: the bot cannot see the server ${s.guild} (HTTP ${g.status})`, fix: "invite the bot to that server (developer portal → OAuth2 → URL generator, scope bot), or fix discord.guild" },
      );
    }
    return out;
  } catch (err) {
    if (err instanceof Stop) return [err.check];
    return [{ verdict: "fail", what: `Discord: cannot check ${api}: ${describe(err)}` }];
  }
}

/** The gateway's URL, its HELLO, and the day's session starts. */
async function gateway(g: { status: number; body?: v.InferOutput<typeof GatewaySchema> }): Promise<DoctorCheck> {
  if (!g.body) return { verdict: "fail", what: `Discord: GET /gateway/bot answered HTTP ${g.status}`, fix: "try again later (https://discordstatus.com)" };
  const limit = g.body.session_start_limit;
  if (limit && limit.remaining <= 0) {
    return { verdict: "fail", what: `Discord: no gateway session starts left today (${limit.total} used)`, fix: `wait ${Math.ceil(limit.reset_after / 60_000)} minutes: Discord caps how often a bot may connect` };
  }
  const hello = await new Promise<string | undefined>((resolve) => {
    let ws: WebSocket;
    const done = (problem: string | undefined) => (clearTimeout(timer), ws?.close(), resolve(problem));
    const timer = setTimeout(() => done(`no HELLO within ${TIMEOUT_MS / 1000} s`), TIMEOUT_MS);
    try {
      const url = new URL(g.body!.url);
      url.search = "?v=10&encoding=json";
      ws = new WebSocket(url);
    } catch (err) {
      return done(describe(err));
    }
    ws.onmessage = (e) => done(/"op"\s*:\s*10\b/.test(String(e.data)) ? undefined : "the first frame was not HELLO");
    ws.onerror = () => done("the WebSocket failed to open");
    ws.onclose = (e) => done(`closed with ${e.code}${e.reason ? ` ${e.reason}` : ""}`);
  });
  if (hello) return { verdict: "fail", what: `Discord: the gateway ${g.body.url} is not reachable: ${hello}`, fix: "allow outbound WebSocket (wss://, port 443) to Discord's gateway" };
  return { verdict: "ok", what: `Discord: the gateway ${g.body.url} answers${limit ? ` (${limit.remaining} of ${limit.total} session starts left today)` : ""}` };
}
