/**
 * Rocket.Chat users and rooms by id and by name (`users.info`, `rooms.info`), validated and
 * cached for a while, plus the bot's direct room with each person (`im.create`).
 */
import * as v from "valibot";
import { SendError } from "../../lib/errors.ts";
import type { Target } from "../types.ts";
import { TtlCache } from "../ttl-cache.ts";
import { RestError } from "./errors.ts";
import { MeSchema, type RcUser, type RocketChatRest } from "./rest.ts";

const UserInfoSchema = v.object({ user: MeSchema });
const RoomSchema = v.object({ _id: v.string(), t: v.string(), name: v.optional(v.nullable(v.string())), fname: v.optional(v.nullable(v.string())) });
const RoomInfoSchema = v.object({ room: RoomSchema });
/** `im.create` answers with the room's `_id` (and, on older servers, `rid`). */
const ImSchema = v.object({ room: v.object({ _id: v.optional(v.string()), rid: v.optional(v.string()) }) });
export type RcRoom = v.InferOutput<typeof RoomSchema>;

/** A room as a target: `#name` for channels and groups, the id for anything without a name. */
export const roomTarget = (r: RcRoom): Target => ({ kind: "room", id: r._id, name: (r.t === "c" || r.t === "p") && r.name ? `#${r.name}` : r._id });
export const userTarget = (u: RcUser): Target => ({ kind: "user", id: u._id, name: `@${u.username}` });

/**
 * Lookups answer undefined when Rocket.Chat has no such user or room (its 400s), throw a final
 * SendError when the bot may not see it, and a retryable one for network or server trouble.
 */
export class RocketChatDirectory {
  private readonly users: TtlCache<RcUser>;
  private readonly rooms: TtlCache<RcRoom>;
  /** username → the bot's direct room with them. */
  private readonly directs: TtlCache<string>;

  constructor(private readonly rest: RocketChatRest, ttlMs: number) {
    this.users = new TtlCache(ttlMs);
    this.rooms = new TtlCache(ttlMs);
    this.directs = new TtlCache(ttlMs);
  }

  async userByName(name: string): Promise<RcUser | undefined> {
    return this.users.get(`@${name.toLowerCase()}`) ?? this.fetchUser({ username: name }, `user @${name}`);
  }

  async userById(id: string): Promise<RcUser | undefined> {
    return this.users.get(id) ?? this.fetchUser({ userId: id }, `user ${id}`);
  }

  async roomByName(name: string): Promise<RcRoom | undefined> {
    return this.rooms.get(`#${name.toLowerCase()}`) ?? this.fetchRoom({ roomName: name }, `room #${name}`);
  }

  async roomById(id: string): Promise<RcRoom | undefined> {
    return this.rooms.get(id) ?? this.fetchRoom({ roomId: id }, `room ${id}`);
  }

  private async fetchUser(query: Record<string, string>, what: string): Promise<RcUser | undefined> {
    const found = await missingAsUndefined(this.rest.get("users.info", query, UserInfoSchema, what));
    return found && this.rememberUser(found.user);
  }

  private async fetchRoom(query: Record<string, string>, what: string): Promise<RcRoom | undefined> {
    const found = await missingAsUndefined(this.rest.get("rooms.info", query, RoomInfoSchema, what));
    return found && this.rememberRoom(found.room);
  }

  /** Notes the direct room a person wrote to the bot in, so replies need no `im.create`. */
  rememberDirect(username: string, rid: string): void {
    this.directs.set(username.toLowerCase(), rid);
  }

  /** The bot's direct room with `username`, created on first use (`im.create` returns an existing one). */
  async directRoom(username: string): Promise<string> {
    const key = username.toLowerCase();
    const hit = this.directs.get(key);
    if (hit) return hit;
    const created = await this.rest.post("im.create", { username }, ImSchema, `the direct room with @${username}`);
    const rid = created.room._id ?? created.room.rid;
    if (!rid) throw new SendError(`Rocket.Chat: no direct room with @${username}`, true);
    return this.directs.set(key, rid);
  }

  rememberUser(u: RcUser): RcUser {
    this.users.set(`@${u.username.toLowerCase()}`, u);
    return this.users.set(u._id, u);
  }

  private rememberRoom(r: RcRoom): RcRoom {
    if (r.name) this.rooms.set(`#${r.name.toLowerCase()}`, r);
    return this.rooms.set(r._id, r);
  }
}

/** Rocket.Chat answers "no such user/room" with a 400; "not yours to see" is final too. */
async function missingAsUndefined<T>(lookup: Promise<T>): Promise<T | undefined> {
  try {
    return await lookup;
  } catch (err) {
    if (err instanceof RestError && err.status === 400) {
      if (err.errorType === "Not Allowed" || err.message.includes("not-allowed")) throw new SendError(`${err.message.replace(/^Rocket.Chat refused /, "Rocket.Chat: the bot may not see ")}`, false);
      return undefined;
    }
    throw err;
  }
}
