/**
 * Addresses → targets and targets → stanza recipients. Users: `alice`, `@alice` (the
 * configured domain is added), `alice@host`, `alice@host/res`, and room occupants
 * `room@conf.host/nick` (a private message through the room). Channels: configured rooms by
 * JID, local part or `#name`; occupant and person JIDs (err-stackstorm's `source_channel` of a
 * private chat) resolve to that person.
 */
import { SendError } from "../../lib/errors.ts";
import type { Target } from "../types.ts";
import { type Jid, parseJid } from "./jid.ts";
import type { Rooms } from "./rooms.ts";

/**
 * The target StackStorm's `user` or `channel` string names; SendError (not retryable) when it
 * names nothing st2bot can reach. `domain` completes bare user names.
 */
export function resolveTarget(kind: "user" | "channel", value: string, rooms: Rooms, domain: string): Target {
  const text = value.trim().replace(/^xmpp:/i, "");
  if (!text) throw new SendError(`no XMPP ${kind} given`, false);
  if (kind === "channel") {
    const room = rooms.find(text);
    if (room) return { kind: "room", id: room.jid, name: room.jid };
    // Not a room: err-stackstorm's source_channel of a private chat is the person's JID.
    const jid = text.includes("@") ? parseJid(text) : undefined;
    if (!jid || (rooms.isMucDomain(jid.domain) && !jid.resource)) throw new SendError(`"${value}" is not one of the configured XMPP rooms`, false);
    return userTarget(jid, value, rooms);
  }
  const name = text.replace(/^@/, "");
  const jid = parseJid(name.includes("@") ? name : `${name}@${domain}`);
  if (!jid) throw new SendError(`"${value}" is not an XMPP address`, false);
  return userTarget(jid, value, rooms);
}

function userTarget(jid: Jid, value: string, rooms: Rooms): Target {
  const room = rooms.get(jid.bare);
  if (room && !jid.resource) throw new SendError(`"${value}" is a room, not a person`, false);
  if (!room && rooms.isMucDomain(jid.domain)) throw new SendError(`"${value}" is in a room st2bot is not configured for`, false);
  return { kind: "user", id: jid.full, name: room ? jid.resource : jid.bare };
}

/**
 * The recipient and message type for `target`. Throws SendError: not retryable when the
 * target can never be reached, retryable while the room it goes through is not joined.
 */
export function destination(target: Target, rooms: Rooms): { to: string; type: "chat" | "groupchat" } {
  const jid = parseJid(target.id);
  if (!jid) throw new SendError(`"${target.id}" is not an XMPP address`, false);
  const room = rooms.get(jid.bare);
  if (target.kind === "room") {
    if (!room || jid.resource) throw new SendError(`${target.id} is not one of the configured rooms`, false);
    if (!room.joined) throw new SendError(`not in ${room.jid} at the moment${room.lastError ? ` (${room.lastError})` : ""}`, true);
    return { to: room.jid, type: "groupchat" };
  }
  if (room) {
    if (!jid.resource) throw new SendError(`${target.id} is a room, not a person`, false);
    // A private message to an occupant goes through the room, so we must be in it.
    if (!room.joined) throw new SendError(`not in ${room.jid} at the moment`, true);
  }
  return { to: jid.full, type: "chat" };
}
