/**
 * What the bot knows about its rooms: aliases, direct chats (`m.direct`), which rooms are
 * end-to-end encrypted, people's display names; and turning StackStorm's `channel`/`user`
 * strings into targets (`!id:server`, `#alias:server`, `@user:server`).
 */
import { describeError, SendError } from "../../lib/errors.ts";
import { logger } from "../../lib/log.ts";
import type { Target } from "../types.ts";
import type { MatrixApi } from "./api.ts";
import { MatrixError } from "./api.ts";
import { sendFailure } from "./errors.ts";
import type { RoomEvent } from "./events.ts";
import { USER_ID } from "./settings.ts";

const log = logger("chat.matrix");

/** Why st2bot will not talk in an encrypted room; said in logs, to senders and in send errors. */
export const ENCRYPTED_REFUSAL =
  "this room is end-to-end encrypted: st2bot does not support encrypted rooms (it can neither read nor send there); use a room without encryption";

export class RoomDirectory {
  /** Room id → the other person, for direct chats. */
  private readonly directRooms = new Map<string, string>();
  /** Person → their direct chat with the bot (the newest one seen). */
  private readonly directOf = new Map<string, string>();
  private readonly aliases = new Map<string, string>();
  private readonly names = new Map<string, string>();
  private readonly encrypted = new Map<string, boolean>();
  private readonly displayNames = new Map<string, string>();
  private creatingDirect = new Map<string, Promise<string>>();

  constructor(
    private readonly api: MatrixApi,
    private readonly me: () => string,
  ) {}

  /** Replaces the direct chats with `m.direct` (user id → rooms). */
  setDirect(map: Record<string, string[]>): void {
    this.directRooms.clear();
    this.directOf.clear();
    for (const [user, rooms] of Object.entries(map)) for (const room of rooms) this.rememberDirect(room, user);
  }

  rememberDirect(roomId: string, userId: string): void {
    this.directRooms.set(roomId, userId);
    this.directOf.set(userId, roomId);
  }

  isDirect(roomId: string): boolean {
    return this.directRooms.has(roomId);
  }

  /** Records a configured alias and the room it names. */
  rememberAlias(alias: string, roomId: string): void {
    this.aliases.set(alias, roomId);
    if (!this.names.has(roomId)) this.names.set(roomId, alias);
  }

  /** The room's alias for people, else its id. */
  nameOf(roomId: string): string {
    return this.names.get(roomId) ?? roomId;
  }

  displayName(userId: string): string | undefined {
    return this.displayNames.get(userId);
  }

  /** Learns from a room's new state: encryption switched on, canonical alias, members' names, the bot leaving. */
  learn(roomId: string, e: RoomEvent): void {
    if (e.state_key === undefined) return;
    if (e.type === "m.room.encryption") this.encrypted.set(roomId, true);
    else if (e.type === "m.room.canonical_alias" && typeof e.content.alias === "string") this.names.set(roomId, e.content.alias);
    else if (e.type === "m.room.member" && typeof e.content.displayname === "string") this.displayNames.set(e.state_key, e.content.displayname);
  }

  /** Known (from /sync) or asked once: does the room have `m.room.encryption`? */
  async isEncrypted(roomId: string): Promise<boolean> {
    const known = this.encrypted.get(roomId);
    if (known !== undefined) return known;
    const state = await this.api.stateEvent(roomId, "m.room.encryption");
    this.encrypted.set(roomId, state !== undefined);
    return state !== undefined;
  }

  markEncrypted(roomId: string): void {
    this.encrypted.set(roomId, true);
  }

  /**
   * The room a send to `target` goes to (a direct chat is opened when there is none), refusing
   * encrypted rooms with a final SendError; the homeserver's failures are MatrixErrors.
   */
  async roomFor(target: Target): Promise<string> {
    const roomId = target.kind === "room" ? target.id : await this.directWith(target.id);
    // Failures go up as they are (MatrixError): the caller may log in again and retry.
    const encrypted = await this.isEncrypted(roomId);
    if (encrypted) throw new SendError(`Matrix: ${this.nameOf(roomId)}: ${ENCRYPTED_REFUSAL}`, false);
    return roomId;
  }

  /** The direct chat with `userId`, created (and recorded in `m.direct`) when there is none. */
  private async directWith(userId: string): Promise<string> {
    const known = this.directOf.get(userId);
    if (known) return known;
    // Two sends to a new person at once must not open two rooms.
    let creating = this.creatingDirect.get(userId);
    if (!creating) {
      creating = this.createDirect(userId).finally(() => this.creatingDirect.delete(userId));
      this.creatingDirect.set(userId, creating);
    }
    return creating;
  }

  private async createDirect(userId: string): Promise<string> {
    const roomId = await this.api.createDirect(userId);
    this.rememberDirect(roomId, userId);
    this.encrypted.set(roomId, false); // created by us without encryption
    log.info("opened a direct chat", { user: userId, room: roomId });
    try {
      const me = this.me();
      const current = (await this.api.accountData(me, "m.direct")) ?? {};
      const rooms = Array.isArray(current[userId]) ? (current[userId] as string[]) : [];
      await this.api.setAccountData(me, "m.direct", { ...current, [userId]: [...rooms, roomId] });
    } catch (err) {
      // The room works; only other clients of the bot's account would not show it as direct.
      log.warn("could not record the direct chat in m.direct", { error: describeError(err) });
    }
    return roomId;
  }

  /**
   * StackStorm's `channel` (`!id:server`, `#alias:server`, or `@user:server` for a DM) or
   * `user` (`@user:server`; a bare `name` means `@name:` on the bot's server) as a target.
   */
  async resolve(kind: "user" | "channel", value: string): Promise<Target> {
    const v = unlink(value.trim());
    if (kind === "user" || v.startsWith("@")) return { kind: "user", id: this.userId(v) };
    if (v.startsWith("!") && v.includes(":")) return { kind: "room", id: v, name: this.nameOf(v) };
    if (v.startsWith("#") && v.includes(":")) {
      const roomId = await this.aliasToRoom(v);
      return { kind: "room", id: roomId, name: v };
    }
    throw new SendError(`Matrix: "${value}" is not a room id (!id:server), alias (#room:server) or user (@name:server)`, false);
  }

  /** The room an alias names (cached once found). */
  async aliasToRoom(alias: string): Promise<string> {
    const known = this.aliases.get(alias);
    if (known) return known;
    try {
      const roomId = await this.api.resolveAlias(alias);
      this.rememberAlias(alias, roomId);
      return roomId;
    } catch (err) {
      if (err instanceof MatrixError && err.errcode === "M_NOT_FOUND") throw new SendError(`Matrix: the room alias ${alias} does not exist`, false);
      throw sendFailure(err, `resolving ${alias}`);
    }
  }

  private userId(value: string): string {
    if (USER_ID.test(value)) return value;
    const server = this.me().split(":").slice(1).join(":");
    const local = value.replace(/^@/, "");
    if (/^[a-z0-9._=\-/+]+$/i.test(local) && server) return `@${local}:${server}`;
    throw new SendError(`Matrix: "${value}" is not a Matrix user id (@name:server)`, false);
  }
}

/** A matrix.to link (what clients' "copy link" gives) → the id or alias it names; anything else unchanged. */
function unlink(value: string): string {
  const link = /^https:\/\/matrix\.to\/#\/([^?]+)/.exec(value);
  if (!link) return value;
  try {
    return decodeURIComponent(link[1]!);
  } catch {
    return value;
  }
}
