/**
 * Incoming `<message>` stanzas → `Message`: who spoke (see the identity table in index.ts),
 * where, and whether they addressed the bot by name. Everything that is not a person talking
 * to the bot now is dropped here: notifications, bounces, replayed history, invitations, the
 * room's own notices and our echoes.
 */
import type { XmlElement } from "@xmpp/client";
import { logger } from "../../lib/log.ts";
import type { Identity, Message } from "../types.ts";
import { stripLeadingName } from "../mention.ts";
import { errorCondition } from "./errors.ts";
import { type Jid, parseJid } from "./jid.ts";
import { NS } from "./ns.ts";
import type { Rooms, RoomState } from "./rooms.ts";

/** Who the bot is: its account and the name it answers to. */
export interface Self {
  account: Jid;
  botName: string;
}

const log = logger("chat.xmpp");

/** The message `stanza` carries for the bot, or undefined when it is none (bounces are logged). */
export function incomingMessage(stanza: XmlElement, self: Self, rooms: Rooms): Message | undefined {
  const type = stanza.attrs.type ?? "normal";
  // Headlines are notifications (pubsub, broadcasts), never someone talking to the bot.
  if (type === "headline") return undefined;
  if (type === "error") {
    // A bounce (offline user, unknown occupant): no send can be failed after the fact, so say it.
    log.warn(`the XMPP server bounced a message to ${stanza.attrs.from}: ${errorCondition(stanza)}`);
    return undefined;
  }
  const body = stanza.getChildText("body");
  const from = parseJid(stanza.attrs.from ?? "");
  if (!body?.trim() || !from) return undefined;
  // History replayed by a room on join, or offline messages: never run old commands again.
  if (stanza.getChild("delay", NS.delay) || stanza.getChild("x", NS.legacyDelay)) return undefined;
  // Room invitations carry a human-readable body but are not commands.
  const mucUser = stanza.getChild("x", NS.mucUser);
  if (mucUser?.getChild("invite") || mucUser?.getChild("decline") || stanza.getChild("x", NS.conference)) return undefined;
  const message = type === "groupchat" ? roomMessage(from, body, self, rooms) : directMessage(from, body, self, rooms);
  if (message) message.raw = stanza;
  return message;
}

function roomMessage(from: Jid, body: string, self: Self, rooms: Rooms): Message | undefined {
  const room = rooms.get(from.bare);
  // Messages from the room itself (no nick) are server notices; our own nick is our echo.
  if (!room || !from.resource || from.resource === room.currentNick) return undefined;
  const { text, mentioned } = stripLeadingName(body, namesIn(room, self));
  return { text, from: occupantIdentity(from, rooms), room: { id: room.jid, name: room.jid }, direct: false, mentioned };
}

function directMessage(from: Jid, body: string, self: Self, rooms: Rooms): Message | undefined {
  // Our own resources and server notices (no local part) are not people talking to the bot.
  if (from.bare === self.account.bare || !from.local) return undefined;
  const room = rooms.get(from.bare);
  if (room && (!from.resource || from.resource === room.currentNick)) return undefined;
  const identity = room ? occupantIdentity(from, rooms) : dmIdentity(from);
  const { text, mentioned } = stripLeadingName(body, room ? namesIn(room, self) : baseNames(self));
  return { text, from: identity, direct: true, mentioned };
}

/** A room occupant: the nick is theirs only while they hold it, so `account` is the real JID or null. */
function occupantIdentity(from: Jid, rooms: Rooms): Identity {
  const real = rooms.realJid(from.full);
  return { id: from.full, nick: from.resource, aclId: real ?? from.full, st2User: from.full, account: real ?? null };
}

function dmIdentity(from: Jid): Identity {
  return { id: from.bare, nick: from.local || from.domain, aclId: from.bare, st2User: from.full };
}

function baseNames(self: Self): string[] {
  return [self.botName, self.account.local, self.account.bare];
}

function namesIn(room: Readonly<RoomState>, self: Self): string[] {
  return room.currentNick ? [room.currentNick, ...baseNames(self)] : baseNames(self);
}
