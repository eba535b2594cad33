/**
 * The Matrix emulator's state and what people do with it: users and their account data, access
 * tokens, rooms with their timelines and state on one stream of positions, aliases, the bot's
 * sent messages, and the waiters a /sync long-poll parks until something new is stored. No
 * wire here: client-api.ts answers requests from it, sync.ts reads it.
 */
import { type Device, type EmuRoom, type MxEvent, rand, type RoomFixture, type Sent, SERVER_NAME, uid, type UserFixture } from "./wire.ts";

/** A user's password, display name and account data (with the stream position each last changed at). */
export interface EmuUser {
  password?: string;
  displayname?: string;
  accountData: Map<string, Record<string, unknown>>;
  adPos: Map<string, number>;
}

/** Everything the emulated homeserver stores. */
export class Homeserver {
  readonly rooms = new Map<string, EmuRoom>();
  readonly aliases = new Map<string, string>();
  /** Messages the bot (any token of `bot`) sent, in order, duplicates never repeated. */
  readonly received: Sent[] = [];
  readonly users = new Map<string, EmuUser>();
  readonly tokens = new Map<string, Device>();
  /** `user|device|txnId` → the event id the first send of it got. */
  readonly txns = new Map<string, string>();
  /** The next stream position. */
  pos = 1;
  private waiters: Array<() => void> = [];

  constructor(readonly bot: string, users: UserFixture[], rooms: RoomFixture[]) {
    for (const u of users) {
      this.users.set(uid(u.name), { password: u.password, displayname: u.displayname, accountData: new Map(), adPos: new Map() });
      for (const t of u.tokens ?? []) this.tokens.set(t, { userId: uid(u.name), deviceId: `DEV${rand().slice(0, 8).toUpperCase()}` });
    }
    for (const r of rooms) this.createRoom(r.members[0]!, { ...r });
  }

  userId(name: string): string {
    return uid(name);
  }

  /** Creates a room as `creator`; returns its id. */
  createRoom(creator: string, r: Partial<RoomFixture> & { members?: string[] }): string {
    const id = `!${rand()}:${SERVER_NAME}`;
    const room: EmuRoom = { id, joined: new Set(), invited: new Set(), public: r.public ?? false, timeline: [], state: new Map() };
    this.rooms.set(id, room);
    this.append(room, { type: "m.room.create", sender: uid(creator), state_key: "", content: { creator: uid(creator), room_version: "10" } });
    this.append(room, { type: "m.room.join_rules", sender: uid(creator), state_key: "", content: { join_rule: room.public ? "public" : "invite" } });
    for (const m of r.members ?? [creator]) this.join(room, uid(m));
    if (r.encrypted) this.append(room, { type: "m.room.encryption", sender: uid(creator), state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } });
    if (r.alias) {
      room.alias = r.alias;
      this.aliases.set(r.alias, id);
      this.append(room, { type: "m.room.canonical_alias", sender: uid(creator), state_key: "", content: { alias: r.alias } });
    }
    for (const m of r.invited ?? []) this.invite(creator, id, m, r.direct ?? false);
    if (r.direct) for (const m of room.joined) this.addDirect(m, [...room.joined].find((x) => x !== m) ?? m, id);
    return id;
  }

  /** `from` invites `who` into `roomId` (`direct`: as a direct chat). */
  invite(from: string, roomId: string, who: string, direct = false): void {
    const room = this.rooms.get(roomId)!;
    room.invited.add(uid(who));
    this.append(room, { type: "m.room.member", sender: uid(from), state_key: uid(who), content: { membership: "invite", ...(direct ? { is_direct: true } : {}) } });
  }

  /** `who` posts an `m.room.message` (`m.text` unless `msgtype`); returns the event id. */
  say(who: string, roomRef: string, body: string, opts: { thread?: string; msgtype?: string; mentions?: string[]; type?: string } = {}): string {
    const room = this.room(roomRef);
    if (!room.joined.has(uid(who))) throw new Error(`${who} is not in ${roomRef}`);
    const content: Record<string, unknown> =
      opts.type === "m.room.encrypted"
        ? { algorithm: "m.megolm.v1.aes-sha2", ciphertext: "AwgAEn…", session_id: rand(), device_id: "ALICEDEV" }
        : { msgtype: opts.msgtype ?? "m.text", body };
    if (opts.thread) content["m.relates_to"] = { rel_type: "m.thread", event_id: opts.thread, is_falling_back: true, "m.in_reply_to": { event_id: opts.thread } };
    if (opts.mentions) content["m.mentions"] = { user_ids: opts.mentions.map(uid) };
    return this.append(room, { type: opts.type ?? "m.room.message", sender: uid(who), content }).event_id;
  }

  /** The direct chat between `a` and `b`, as `a`'s m.direct records it. */
  directRoom(a: string, b: string): string | undefined {
    const rooms = this.users.get(uid(a))?.accountData.get("m.direct")?.[uid(b)];
    return Array.isArray(rooms) ? (rooms as string[]).at(-1) : undefined;
  }

  /** A room by id or alias. */
  room(ref: string): EmuRoom {
    const room = this.rooms.get(this.aliases.get(ref) ?? ref);
    if (!room) throw new Error(`no room ${ref}`);
    return room;
  }

  /** How a test names where a message went: the alias, else `@other:server` for a direct chat of the bot, else the id. */
  describeRoom(roomId: string): string {
    const room = this.rooms.get(roomId);
    if (!room) return roomId;
    if (room.alias) return room.alias;
    const direct = this.users.get(uid(this.bot))?.accountData.get("m.direct") ?? {};
    const other = Object.entries(direct).find(([, rooms]) => Array.isArray(rooms) && rooms.includes(roomId));
    return other ? other[0] : roomId;
  }

  /** The content of event `eventId` as clients show it: its last valid edit's `m.new_content`, else its own. */
  current(eventId: string): Record<string, unknown> | undefined {
    const original = this.received.find((s) => s.event.event_id === eventId);
    if (!original || isEdit(original.event)) return undefined;
    const edits = this.editsOf(eventId);
    return edits.length ? (edits.at(-1)!.event.content["m.new_content"] as Record<string, unknown>) : original.event.content;
  }

  /** The valid edits of event `eventId`, in order. */
  editsOf(eventId: string): Sent[] {
    const original = this.received.find((s) => s.event.event_id === eventId);
    if (!original) return [];
    return this.received.filter((s) => {
      const rel = s.event.content["m.relates_to"] as { rel_type?: string; event_id?: string } | undefined;
      return rel?.rel_type === "m.replace" && rel.event_id === eventId && s.roomId === original.roomId && s.event.sender === original.event.sender &&
        typeof s.event.content["m.new_content"] === "object";
    });
  }

  /** Stores an event at the next stream position (and in the room state when it has a state key). */
  append(room: EmuRoom, e: Omit<MxEvent, "event_id" | "room_id" | "origin_server_ts">): MxEvent {
    const event: MxEvent = { ...e, event_id: `$${rand()}`, room_id: room.id, origin_server_ts: Date.now() };
    room.timeline.push({ pos: this.pos++, event });
    if (event.state_key !== undefined) room.state.set(`${event.type}\u0000${event.state_key}`, event);
    this.wake();
    return event;
  }

  join(room: EmuRoom, userId: string): void {
    room.invited.delete(userId);
    room.joined.add(userId);
    const displayname = this.users.get(userId)?.displayname;
    this.append(room, { type: "m.room.member", sender: userId, state_key: userId, content: { membership: "join", ...(displayname ? { displayname } : {}) } });
  }

  /** Records `roomId` as `userId`'s direct chat with `other` in their m.direct. */
  addDirect(userId: string, other: string, roomId: string): void {
    const user = this.users.get(userId);
    if (!user) return;
    const direct = { ...(user.accountData.get("m.direct") ?? {}) };
    direct[other] = [...((direct[other] as string[] | undefined) ?? []), roomId];
    this.setAccountData(userId, "m.direct", direct);
  }

  setAccountData(userId: string, type: string, content: Record<string, unknown>): void {
    const user = this.users.get(userId)!;
    user.accountData.set(type, content);
    user.adPos.set(type, this.pos++);
    this.wake();
  }

  /** Resolves when something is stored, or after `ms`. */
  news(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Releases every parked /sync. */
  wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

function isEdit(event: MxEvent): boolean {
  return (event.content["m.relates_to"] as { rel_type?: string } | undefined)?.rel_type === "m.replace";
}
