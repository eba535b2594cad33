/**
 * The Slack backend's `[slack]` table and what it declares to the registry. Light on purpose
 * (valibot only): config loading and doctor read it without loading the Slack SDK.
 */
import * as v from "valibot";
import type { BackendInfo } from "../backend.ts";

const SlackSchema = v.strictObject({
  bot_token: v.optional(v.string()),
  bot_token_file: v.optional(v.string()),
  app_token: v.optional(v.string()),
  app_token_file: v.optional(v.string()),
  /** Web API root; only changed for tests. */
  api_url: v.optional(v.pipe(v.string(), v.url("must be a URL such as https://slack.com/api/")), "https://slack.com/api/"),
});

/** `[slack]`, validated: Web API and Socket Mode tokens. */
export type SlackSettings = v.InferOutput<typeof SlackSchema>;

/** Slack through Socket Mode (no public URL needed) and the Web API. */
export const slack: BackendInfo<SlackSettings> = {
  name: "slack",
  label: "Slack",
  description: "Slack: events over Socket Mode (no public URL needed), messages through the Web API",
  schema: SlackSchema,
  template: `# bot_token_file = "/etc/st2bot/slack-bot-token"   # xoxb-...
# app_token_file = "/etc/st2bot/slack-app-token"   # xapp-... (Socket Mode)
`,
  sdks: ["@slack/web-api", "@slack/socket-mode"],
  missing: (s) => [
    ...(s.bot_token ? [] : ["slack.bot_token (xoxb-…) or slack.bot_token_file"]),
    ...(s.app_token ? [] : ["slack.app_token (xapp-…, Socket Mode) or slack.app_token_file"]),
  ],
};
