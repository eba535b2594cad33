/**
 * What the Slack emulator sends over Socket Mode, shaped as Slack shapes it: a person's message
 * (with `app_mention` beside it when the bot is mentioned outside a DM), any Events API event,
 * and a click on a button or option (`block_actions`). socket-mode.ts delivers them.
 */
import type { Workspace } from "./workspace.ts";
import { APP_ID, channelType, type Envelope, type PostedMessage, TEAM } from "./wire.ts";

/** A message a test makes a person post (see SlackEmulator.postUserMessage). */
export interface UserMessage {
  user: string;
  channel?: string;
  text: string;
  thread_ts?: string;
  subtype?: string;
}

/** A click a test makes a person do (see SlackEmulator.click). */
export interface Click {
  user: string;
  channel: string;
  ts: string;
  value?: string;
  option?: string;
}

const envelope = (type: Envelope["type"], payload: Record<string, unknown>): Envelope => ({
  envelope_id: crypto.randomUUID(),
  type,
  accepts_response_payload: false,
  retry_attempt: 0,
  retry_reason: "",
  payload,
});

/** The events Slack emits for a person's message, its `ts` and conversation; throws for an unknown user or channel. */
export function userMessageEvents(ws: Workspace, msg: UserMessage): { ts: string; channel: string; events: Record<string, unknown>[] } {
  if (!ws.users.has(msg.user)) throw new Error(`emulator: no user ${msg.user}`);
  const conv = msg.channel === undefined ? ws.openIm(msg.user) : ws.findConversation(msg.channel);
  if (!conv) throw new Error(`emulator: no channel ${msg.channel}`);
  const ts = ws.nextTs();
  const event: Record<string, unknown> = {
    client_msg_id: crypto.randomUUID(),
    type: "message",
    text: msg.text,
    user: msg.user,
    ts,
    team: TEAM.id,
    channel: conv.id,
    event_ts: ts,
    channel_type: channelType(conv),
  };
  if (msg.subtype) event.subtype = msg.subtype;
  ws.userMessages.add(`${conv.id}:${ts}`);
  if (msg.thread_ts) Object.assign(event, { thread_ts: msg.thread_ts, parent_user_id: msg.user });
  const events = [event];
  if (!conv.is_im && msg.text.includes(`<@${ws.bot.id}>`)) {
    const mention: Record<string, unknown> = { type: "app_mention", user: msg.user, text: msg.text, ts, team: TEAM.id, channel: conv.id, event_ts: ts };
    if (msg.thread_ts) mention.thread_ts = msg.thread_ts;
    events.push(mention);
  }
  return { ts, channel: conv.id, events };
}

/** An Events API event in its `events_api` envelope. */
export function eventEnvelope(ws: Workspace, event: Record<string, unknown>): Envelope {
  return envelope("events_api", {
    token: "verification-token-unused-in-socket-mode",
    team_id: TEAM.id,
    api_app_id: APP_ID,
    event,
    type: "event_callback",
    event_id: `Ev${ws.next().toString().padStart(9, "0")}`,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ team_id: TEAM.id, user_id: ws.bot.id, is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
  });
}

/**
 * The `interactive` envelope of a click on one of the bot's messages in `posted`; throws when
 * the message or the element does not exist or the user cannot see it.
 */
export function clickEnvelope(ws: Workspace, posted: readonly PostedMessage[], c: Click): Envelope {
  const user = ws.users.get(c.user);
  const message = posted.find((m) => m.channel === c.channel && m.ts === c.ts);
  if (!user || !message) throw new Error(`emulator: no user ${c.user} or no message ${c.channel}/${c.ts}`);
  const conv = ws.channels.get(c.channel)!;
  if (!conv.is_im && !conv.members.includes(c.user)) throw new Error(`emulator: ${c.user} is not in ${c.channel}`);
  if (conv.is_im && conv.user !== c.user) throw new Error(`emulator: ${c.user} cannot see that DM`);
  const found = (message.blocks ?? []).flatMap((b) => (b.type === "actions" ? ((b.elements as Record<string, unknown>[]) ?? []).map((e) => ({ b, e })) : []))
    .find(({ e }) => (c.option !== undefined ? ((e.options as { value: string }[] | undefined) ?? []).some((o) => o.value === c.option) : e.value === c.value));
  if (!found) throw new Error("emulator: no such button or option in that message");
  const { b, e } = found;
  const seq = ws.next();
  const action: Record<string, unknown> = { action_id: e.action_id, block_id: b.block_id, type: e.type, action_ts: `${Math.floor(Date.now() / 1000)}.${String(seq).padStart(6, "0")}` };
  if (c.option !== undefined) {
    const opt = (e.options as { text: unknown; value: string }[]).find((o) => o.value === c.option)!;
    Object.assign(action, { selected_option: opt, placeholder: e.placeholder });
  } else Object.assign(action, { value: e.value, text: e.text, ...(e.style ? { style: e.style } : {}) });
  const current: Record<string, unknown> = { type: "message", user: ws.bot.id, bot_id: ws.bot.botId, app_id: APP_ID, text: message.text ?? "", ts: message.ts, team: TEAM.id, blocks: message.blocks };
  if (message.thread_ts) current.thread_ts = message.thread_ts;
  return envelope("interactive", {
    type: "block_actions",
    user: { id: user.id, username: user.name, name: user.name, team_id: TEAM.id },
    api_app_id: APP_ID,
    token: "verification-token-unused-in-socket-mode",
    container: { type: "message", message_ts: message.ts, channel_id: conv.id, is_ephemeral: false, ...(message.thread_ts ? { thread_ts: message.thread_ts } : {}) },
    trigger_id: `${seq}.${TEAM.id}.${crypto.randomUUID().replace(/-/g, "")}`,
    team: { id: TEAM.id, domain: TEAM.domain },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: conv.id, name: conv.is_im ? "directmessage" : conv.name },
    message: current,
    state: { values: {} },
    response_url: `https://hooks.slack.com/actions/${TEAM.id}/${seq}/emulated`,
    actions: [action],
  });
}
