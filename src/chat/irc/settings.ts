/**
 * The IRC backend's `[irc]` table and what it declares to the registry. Light on purpose
 * (valibot only): config loading and doctor read it without loading irc-framework.
 */
import * as v from "valibot";
import type { Advice, BackendInfo } from "../backend.ts";

/** A channel name as servers accept it: a prefix, then no space, comma, BEL or line break. */
const CHANNEL = /^[#&+!][^\s,\x07\0]{1,199}$/;

/** One channel to join: `"#ops"`, or a table with the channel's key (`+k`). */
const ChannelSchema = v.union([
  v.pipe(v.string(), v.regex(CHANNEL, "must be a channel name such as #ops")),
  v.strictObject({
    name: v.pipe(v.string(), v.regex(CHANNEL, "must be a channel name such as #ops")),
    key: v.optional(v.pipe(v.string(), v.regex(/^[^\s,\0\r\n]+$/, "must not contain spaces or commas"))),
  }),
]);

const NICK = /^[A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]{0,29}$/;

const IrcSchema = v.strictObject({
  server: v.optional(v.string()),
  /** Default 6697 with TLS, 6667 without. */
  port: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535))),
  tls: v.optional(v.boolean(), true),
  /** Check the server's certificate (only ever false for a test server with a self-signed one). */
  tls_verify: v.optional(v.boolean(), true),
  /** Default: `[bot] name`. */
  nick: v.optional(v.pipe(v.string(), v.regex(NICK, "must be a valid IRC nick (letters, digits, -[]\\`_^{|})"))),
  username: v.optional(v.pipe(v.string(), v.regex(/^[^\s@\0\r\n]{1,30}$/, "must be one word without @")), "st2bot"),
  realname: v.optional(v.pipe(v.string(), v.regex(/^[^\0\r\n]{1,100}$/, "must be one line")), "st2bot (StackStorm ChatOps)"),
  /** The server password (PASS). */
  server_password: v.optional(v.string()),
  server_password_file: v.optional(v.string()),
  /** SASL PLAIN: the services account (default: the nick) and its password. */
  sasl_account: v.optional(v.string()),
  sasl_password: v.optional(v.string()),
  sasl_password_file: v.optional(v.string()),
  /** `PRIVMSG NickServ :IDENTIFY <nick> <password>` after registering, for networks without SASL. */
  nickserv_password: v.optional(v.string()),
  nickserv_password_file: v.optional(v.string()),
  channels: v.optional(v.array(ChannelSchema), []),
  /**
   * A cap on lines sent per second (0: paced by the server only, see the README). Networks whose
   * channels kick flooders (`+f`) want a cap, e.g. 1.
   */
  lines_per_second: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(100)), 0),
});

/** `[irc]`, validated: server, identity, credentials and channels. */
export type IrcSettings = v.InferOutput<typeof IrcSchema>;
/** One channel to join, with its key if it has one. */
export interface IrcChannel {
  name: string;
  key?: string;
}

/** The channels of `[irc] channels`, each as a name and its key. */
export function channelsOf(s: IrcSettings): IrcChannel[] {
  return s.channels.map((c) => (typeof c === "string" ? { name: c } : { name: c.name, ...(c.key ? { key: c.key } : {}) }));
}

function advice(s: IrcSettings): Advice[] {
  const out: Advice[] = [];
  const secrets = s.server_password || s.sasl_password || s.nickserv_password;
  if (!s.tls && secrets) out.push({ what: "irc.tls is off: passwords cross the network in clear", fix: "set irc.tls = true (port 6697 on most networks)" });
  if (s.tls && !s.tls_verify) out.push({ what: "irc.tls_verify is off: anyone in the path can pose as the server", fix: "remove irc.tls_verify (only a test server with a self-signed certificate needs it)" });
  if (s.sasl_password && s.nickserv_password) out.push({ what: "irc.sasl_password and irc.nickserv_password are both set", fix: "keep SASL (it logs in before the bot is visible) and drop irc.nickserv_password" });
  if (s.channels.length === 0) out.push({ what: "irc.channels is empty: the bot only answers direct messages", fix: 'add channels = ["#ops"]' });
  return out;
}

/** IRC: channels and private messages on one server. */
export const irc: BackendInfo<IrcSettings> = {
  name: "irc",
  label: "IRC",
  description: "IRC: channels and private messages on one server (TLS, SASL PLAIN or NickServ)",
  schema: IrcSchema,
  template: `# server = "irc.libera.chat"
# nick = "st2bot"
# sasl_password_file = "/etc/st2bot/irc-password"   # or nickserv_password_file
# channels = ["#ops", { name = "#secret", key = "k3y" }]
`,
  sdks: ["irc-framework"],
  missing: (s) => (s.server ? [] : ["irc.server"]),
  advice,
};
