/**
 * The Discord backend's `[discord]` table and what it declares to the registry. Light on purpose
 * (valibot only): config loading and doctor read it without loading @discordjs/rest or /ws.
 */
import * as v from "valibot";
import type { BackendInfo } from "../backend.ts";

/** A Discord id (snowflake): a 64-bit integer written in decimal. */
export const SNOWFLAKE = /^\d{15,21}$/;

const DiscordSchema = v.strictObject({
  /** The bot token from the developer portal (Bot → Reset Token). */
  token: v.optional(v.string()),
  token_file: v.optional(v.string()),
  /**
   * REST root; only changed for tests. The gateway URL is not configured: Discord hands it out
   * in `GET /gateway/bot`, and a RESUME uses the `resume_gateway_url` of READY.
   */
  api_url: v.optional(v.pipe(v.string(), v.url("must be a URL such as https://discord.com/api")), "https://discord.com/api"),
  /** The server (guild) whose `#channel` names StackStorm may use; needed only when the bot is in several. */
  guild: v.optional(v.pipe(v.string(), v.regex(SNOWFLAKE, "must be a server (guild) id: Developer Mode → right-click the server → Copy Server ID"))),
});

/** `[discord]`, validated: the bot token, the REST root and the optional server for names. */
export type DiscordSettings = v.InferOutput<typeof DiscordSchema>;

/** Discord through the gateway WebSocket (events) and REST v10 (messages). */
export const discord: BackendInfo<DiscordSettings> = {
  name: "discord",
  label: "Discord",
  description:
    "Discord: events over the gateway, messages through REST v10 (enable the privileged Message Content intent in the developer portal)",
  schema: DiscordSchema,
  template: `# token_file = "/etc/st2bot/discord-token"   # Developer portal → your app → Bot → Reset Token
# guild = "123456789012345678"                # only when the bot is in several servers: whose #channel names to use
`,
  sdks: ["@discordjs/rest", "@discordjs/ws", "discord-api-types"],
  missing: (s) => (s.token ? [] : ["discord.token or discord.token_file"]),
  advice: (s) =>
    s.token && /^Bot\s/i.test(s.token)
      ? [{ what: "discord.token starts with \"Bot \": that is the header prefix, not part of the token", fix: "remove the \"Bot \" prefix" }]
      : [],
};
