/**
 * The Mattermost backend's `[mattermost]` table and what it declares to the registry. Light on
 * purpose (valibot only): config loading and doctor read it without loading @mattermost/client.
 */
import * as v from "valibot";
import type { BackendInfo } from "../backend.ts";

const MattermostSchema = v.strictObject({
  url: v.optional(v.pipe(v.string(), v.url("must be a URL such as https://mattermost.example.com"))),
  token: v.optional(v.string()),
  token_file: v.optional(v.string()),
  login: v.optional(v.string()),
  password: v.optional(v.string()),
  password_file: v.optional(v.string()),
  team: v.optional(v.string()),
  /**
   * Where Mattermost posts clicks on st2bot's buttons: st2bot's own `POST /chatops/action`, as
   * the Mattermost server reaches it (e.g. `https://st2bot.example.com/chatops/action`). Unset:
   * inquiries are answered by typing only.
   */
  actions_url: v.optional(v.pipe(v.string(), v.url("must be a URL such as https://st2bot.example.com/chatops/action"))),
});

/** `[mattermost]`, validated: server, credentials (token, or login and password) and team. */
export type MattermostConfig = v.InferOutput<typeof MattermostSchema>;

/** Mattermost through REST v4 and its event WebSocket. */
export const mattermost: BackendInfo<MattermostConfig> = {
  name: "mattermost",
  label: "Mattermost",
  description: "Mattermost: REST v4 for sending, the event WebSocket for receiving",
  schema: MattermostSchema,
  template: `# url = "https://mattermost.example.com"
# token_file = "/etc/st2bot/mattermost-token"
# team = "ops"
# actions_url = "https://st2bot.example.com/chatops/action"   # answer buttons (needs [web])
`,
  sdks: ["@mattermost/client"],
  missing: (s) => [
    ...(s.url ? [] : ["mattermost.url"]),
    ...(s.token || (s.login && s.password) ? [] : ["mattermost.token, or mattermost.login and password"]),
  ],
  // Not an error: a bot in exactly one team uses that one (see session.ts).
  advice: (s) =>
    s.team ? [] : [{ what: "mattermost.team is not set: ~channel names resolve only while the bot is in exactly one team", fix: "set mattermost.team" }],
};
