/**
 * `st2bot doctor` for Matrix: can the bot log in (whoami), can it join each configured room,
 * and is any of them end-to-end encrypted (not supported). Joining is what `run` does at start
 * anyway; a password login here uses a throwaway device that is logged out again.
 */
import type { Config } from "../../config/schema.ts";
import type { DoctorCheck } from "../backend.ts";
import { requireSection } from "../backend.ts";
import { MatrixApi } from "./api.ts";
import { isAuthFailure } from "./errors.ts";
import { matrix } from "./settings.ts";
import { describeError } from "../../lib/errors.ts";

/** The live checks; never throws (a failure is a finding). `fetchFn` is for tests. */
export async function probeMatrix(config: Config, fetchFn: typeof fetch = fetch): Promise<DoctorCheck[]> {
  const s = requireSection(matrix, config);
  const api = new MatrixApi(s.homeserver!, fetchFn, 10_000);
  const throwaway = !s.access_token;
  try {
    if (s.access_token) api.setToken(s.access_token);
    else await api.login(s.user_id!, s.password!);
    const me = await api.whoami();
    const out: DoctorCheck[] = [{ verdict: "ok", what: `Matrix: ${s.homeserver} accepts the bot as ${me.user_id}` }];
    if (s.user_id && me.user_id !== s.user_id) out.push({ verdict: "fail", what: `Matrix: the access token belongs to ${me.user_id}, not matrix.user_id ${s.user_id}`, fix: "fix matrix.user_id or the token" });
    for (const room of s.rooms) out.push(await probeRoom(api, room));
    return out;
  } catch (err) {
    if (isAuthFailure(err)) return [{ verdict: "fail", what: `Matrix: ${s.homeserver} refused the bot's credentials (${describeError(err)})`, fix: "check matrix.access_token, or matrix.user_id and password" }];
    return [{ verdict: "fail", what: `Matrix: cannot reach ${s.homeserver}: ${describeError(err)}`, fix: "check matrix.homeserver (the client-server URL) and the network" }];
  } finally {
    if (throwaway && api.hasToken) await api.logout().catch(() => undefined);
  }
}

async function probeRoom(api: MatrixApi, room: string): Promise<DoctorCheck> {
  try {
    const roomId = await api.join(room);
    if (await api.stateEvent(roomId, "m.room.encryption")) {
      return { verdict: "fail", what: `Matrix: ${room} is end-to-end encrypted, which st2bot does not support`, fix: "use a room without encryption (encryption cannot be turned off in a room)" };
    }
    return { verdict: "ok", what: `Matrix: the bot is in ${room}` };
  } catch (err) {
    return { verdict: "fail", what: `Matrix: cannot join ${room}: ${describeError(err)}`, fix: "invite the bot, or make the room public, or fix the id/alias in matrix.rooms" };
  }
}
