/**
 * The Matrix backend's `[matrix]` table and what it declares to the registry. Light on purpose
 * (valibot only): config loading and doctor read it without loading the backend.
 */
import * as v from "valibot";
import { type Advice, type BackendInfo, plainHttpElsewhere } from "../backend.ts";

/** `@localpart:server`, the only form of a Matrix user id. */
export const USER_ID = /^@[^:\s]+:[^\s]+$/;
/** A room id (`!opaque:server`) or an alias (`#name:server`). */
export const ROOM_REF = /^[!#][^:\s]+:[^\s]+$/;

const MatrixSchema = v.strictObject({
  homeserver: v.optional(v.pipe(v.string(), v.url("must be the homeserver's client-server URL, such as https://matrix.example.org"))),
  user_id: v.optional(v.pipe(v.string(), v.regex(USER_ID, "must be a full Matrix user id such as @st2bot:example.org"))),
  access_token: v.optional(v.string()),
  access_token_file: v.optional(v.string()),
  password: v.optional(v.string()),
  password_file: v.optional(v.string()),
  /** Rooms joined at every start: ids `!x:server` or aliases `#ops:server`. */
  rooms: v.optional(v.array(v.pipe(v.string(), v.regex(ROOM_REF, "must be a room id (!id:server) or alias (#room:server)"))), []),
  /** Accept invitations (a person invites the bot to a room or opens a DM with it). */
  join_on_invite: v.optional(v.boolean(), true),
  /**
   * Whose invitations are accepted: globs on the inviter's user id (`@*:example.org`). Empty:
   * people on the bot's own homeserver, so a stranger on the federation cannot pull it into a room.
   */
  invite_from: v.optional(v.array(v.string()), []),
  /** How long one /sync long-poll waits for news on the server. */
  sync_timeout_seconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(120)), 30),
});

/** `[matrix]`, validated: homeserver, credentials (access token, or user id and password), rooms. */
export type MatrixConfig = v.InferOutput<typeof MatrixSchema>;

function advice(s: MatrixConfig): Advice[] {
  const out: Advice[] = [];
  if (s.access_token && s.password) out.push({ what: "matrix.access_token and matrix.password are both set: the password is not used", fix: "remove matrix.password" });
  if (!s.rooms.length && !s.join_on_invite) out.push({ what: "matrix.rooms is empty and matrix.join_on_invite is false: the bot joins no room", fix: "list rooms in matrix.rooms" });
  if (s.homeserver && plainHttpElsewhere(s.homeserver)) {
    out.push({ what: "matrix.homeserver is plain http: the access token crosses the network in clear", fix: "use https://" });
  }
  return out;
}

/** Matrix (and Gitter, which lives on Matrix) through the client-server API. */
export const matrix: BackendInfo<MatrixConfig> = {
  name: "matrix",
  label: "Matrix",
  description: "Matrix (also Gitter): the client-server API, /sync long-poll for receiving",
  schema: MatrixSchema,
  template: `# homeserver = "https://matrix.example.org"
# user_id = "@st2bot:example.org"
# access_token_file = "/etc/st2bot/matrix-token"   # or password_file
# rooms = ["#ops:example.org"]
`,
  sdks: ["marked"],
  missing: (s) => [
    ...(s.homeserver ? [] : ["matrix.homeserver"]),
    ...(s.access_token || (s.user_id && s.password) ? [] : ["matrix.access_token (or access_token_file), or matrix.user_id and password (or password_file)"]),
  ],
  advice,
};
