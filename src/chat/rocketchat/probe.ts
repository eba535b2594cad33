/**
 * `st2bot doctor` for Rocket.Chat: does the REST API accept the bot (`GET /api/v1/me` with the
 * personal access token, or after `/api/v1/login`), and does the realtime API (DDP on
 * `/websocket`, how the bot receives) log it in and subscribe it to its rooms' messages. There
 * are no configured rooms to check: the bot hears every room it is a member of. A password
 * login here makes a throwaway login token, logged out again at the end.
 */
import * as v from "valibot";
import type { Config } from "../../config/schema.ts";
import { ConfigError } from "../../lib/errors.ts";
import type { DoctorCheck } from "../backend.ts";
import { requireSection } from "../backend.ts";
import { DdpSocket } from "./ddp.ts";
import { describeError as describe } from "../../lib/errors.ts";
import { RocketChatRest } from "./rest.ts";
import { rocketchat } from "./settings.ts";

/** Injectables for tests; production uses the defaults. */
export interface RocketChatProbeDeps {
  fetch?: typeof fetch;
  /** Per REST call, and for the realtime login and subscription. */
  timeoutMs?: number;
}

/** The live checks; never throws (a failure is a finding). */
export async function probeRocketChat(config: Config, deps: RocketChatProbeDeps = {}): Promise<DoctorCheck[]> {
  const s = requireSection(rocketchat, config);
  const url = s.url!; // requireSection checked it
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const rest = new RocketChatRest({ ...s, url }, deps.fetch ?? fetch, timeoutMs);
  const byToken = Boolean(s.token && s.user_id);
  try {
    const me = await rest.setUp();
    const out: DoctorCheck[] = [{ verdict: "ok", what: `Rocket.Chat: ${url} accepts the bot as @${me.username}${byToken ? " (personal access token)" : ""}` }];
    out.push(await realtime(rest, timeoutMs));
    return out;
  } catch (err) {
    if (err instanceof ConfigError) {
      return [{ verdict: "fail", what: `Rocket.Chat: ${url} refused the bot's ${byToken ? "personal access token" : "login"}`, fix: byToken ? "check rocketchat.user_id and token (the user's Account → Personal Access Tokens)" : "check rocketchat.user and password" }];
    }
    return [{ verdict: "fail", what: `Rocket.Chat: cannot reach ${url}: ${describe(err)}`, fix: "check rocketchat.url (the server's root, e.g. https://chat.example.com) and the network" }];
  } finally {
    if (!byToken) await rest.post("logout", {}, v.unknown(), "logout").catch(() => undefined);
  }
}

/** One DDP session: connect, login with the resume token, subscribe; then closed again. */
async function realtime(rest: RocketChatRest, timeoutMs: number): Promise<DoctorCheck> {
  const where = rest.socketUrl();
  const socket = new DdpSocket({ pingIntervalMs: timeoutMs, openTimeoutMs: timeoutMs, onChanged: () => undefined, onDrop: () => undefined });
  try {
    await socket.open(where, rest.credentials().token);
    return { verdict: "ok", what: `Rocket.Chat: the realtime API ${where} logs the bot in and streams its rooms' messages` };
  } catch (err) {
    if (err instanceof ConfigError) return { verdict: "fail", what: `Rocket.Chat: the realtime API ${where} refused the bot's token: ${describe(err)}`, fix: "create a new personal access token (or check the password) and set it in [rocketchat]" };
    return { verdict: "fail", what: `Rocket.Chat: the realtime API ${where} is not usable: ${describe(err)}`, fix: "let WebSocket upgrades through to /websocket (a reverse proxy needs the Upgrade and Connection headers)" };
  } finally {
    socket.close();
  }
}
