/**
 * The XMPP backend's `[xmpp]` table and what it declares to the registry. Light on purpose
 * (valibot only): config loading and doctor read it without loading @xmpp/client.
 */
import * as v from "valibot";
import type { BackendInfo } from "../backend.ts";

/** One MUC room to join. */
const XmppRoomSchema = v.strictObject({
  jid: v.string(),
  password: v.optional(v.string()),
  nick: v.optional(v.string()),
});

const XmppSchema = v.strictObject({
  service: v.optional(v.string()),
  domain: v.optional(v.string()),
  jid: v.optional(v.string()),
  password: v.optional(v.string()),
  password_file: v.optional(v.string()),
  resource: v.optional(v.string(), "st2bot"),
  rooms: v.optional(v.array(XmppRoomSchema), []),
});

/** `[xmpp]`, validated: account and rooms. */
export type XmppSettings = v.InferOutput<typeof XmppSchema>;
/** One entry of `[xmpp] rooms`. */
export type XmppRoomSettings = XmppSettings["rooms"][number];

/** XMPP (Jabber): direct chats and multi-user chat rooms. */
export const xmpp: BackendInfo<XmppSettings> = {
  name: "xmpp",
  label: "XMPP",
  description: "XMPP (Jabber): direct chats and multi-user chat rooms (XEP-0045)",
  schema: XmppSchema,
  template: `# jid = "st2bot@example.com"
# password_file = "/etc/st2bot/xmpp-password"
# rooms = [{ jid = "ops@conference.example.com", nick = "st2bot" }]
`,
  sdks: ["@xmpp/client"],
  missing: (s) => [...(s.jid ? [] : ["xmpp.jid"]), ...(s.password ? [] : ["xmpp.password or xmpp.password_file"])],
};
