/**
 * The Rocket.Chat backend's `[rocketchat]` table and what it declares to the registry. Light on
 * purpose (valibot only): config loading and doctor read it without loading the backend.
 */
import * as v from "valibot";
import { type BackendInfo, plainHttpElsewhere } from "../backend.ts";

/** Rocket.Chat's default `Message_MaxAllowedSize` (characters). */
export const DEFAULT_MAX_MESSAGE = 5000;

const RocketChatSchema = v.strictObject({
  url: v.optional(v.pipe(v.string(), v.url("must be a URL such as https://chat.example.com"))),
  /** A personal access token's user id (`X-User-Id`), with `token`. */
  user_id: v.optional(v.string()),
  token: v.optional(v.string()),
  token_file: v.optional(v.string()),
  /** Username (or email) for `/api/v1/login`, with `password`, when no token is set. */
  user: v.optional(v.string()),
  password: v.optional(v.string()),
  password_file: v.optional(v.string()),
  /** The server's `Message_MaxAllowedSize`, when an administrator changed it. */
  max_message_length: v.optional(v.pipe(v.number(), v.integer(), v.minValue(100)), DEFAULT_MAX_MESSAGE),
});

/** `[rocketchat]`, validated: server, credentials (token, or user and password), message limit. */
export type RocketChatSettings = v.InferOutput<typeof RocketChatSchema>;

/** Rocket.Chat through its REST API (sends) and the realtime DDP WebSocket (receives). */
export const rocketchat: BackendInfo<RocketChatSettings> = {
  name: "rocketchat",
  label: "Rocket.Chat",
  description: "Rocket.Chat: REST API for sending, the realtime (DDP) WebSocket for receiving",
  schema: RocketChatSchema,
  template: `# url = "https://chat.example.com"
# user_id = "aobEdbYhXfu5hkeqG"                      # personal access token: the user id shown with it
# token_file = "/etc/st2bot/rocketchat-token"
# (or) user = "st2bot" and password_file = "/etc/st2bot/rocketchat-password"
`,
  sdks: [],
  missing: (s) => [
    ...(s.url ? [] : ["rocketchat.url"]),
    ...((s.token && s.user_id) || (s.user && s.password)
      ? []
      : [s.token ? "rocketchat.user_id (the personal access token's user id)" : "rocketchat.user_id and token (or token_file), or rocketchat.user and password (or password_file)"]),
  ],
  advice: (s) => [
    ...(s.token && s.user && s.password ? [{ what: "rocketchat has both a token and a password: the token is used", fix: "remove rocketchat.user/password, or the token" }] : []),
    ...(s.url && plainHttpElsewhere(s.url)
      ? [{ what: "rocketchat.url is http:// to another host: the bot's token and every message cross the network unencrypted", fix: "use https://" }]
      : []),
  ],
};
