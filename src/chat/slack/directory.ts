/**
 * Slack's users and conversations by id and by name, validated at the boundary and cached:
 * whole lists come from users.list / conversations.list (paged by cursor), single ids from
 * users.info / conversations.info.
 */
import * as v from "valibot";
import { logger } from "../../lib/log.ts";
import type { Call } from "./api.ts";
import { isSlackError } from "./errors.ts";

const log = logger("chat.slack");

const UserSchema = v.object({
  id: v.string(),
  name: v.string(),
  deleted: v.optional(v.boolean(), false),
  real_name: v.optional(v.string()),
  profile: v.optional(
    v.object({ display_name: v.optional(v.string()), real_name: v.optional(v.string()), email: v.optional(v.string()) }),
    {},
  ),
});
/** A Slack user as users.info / users.list describe them. */
export type SlackUser = v.InferOutput<typeof UserSchema>;

const ConversationSchema = v.object({
  id: v.string(),
  name: v.optional(v.string()),
  is_im: v.optional(v.boolean(), false),
  is_archived: v.optional(v.boolean(), false),
});
/** A channel, private channel, group DM or DM as conversations.info / conversations.list describe it. */
export type SlackConversation = v.InferOutput<typeof ConversationSchema>;

const NextCursor = v.optional(v.object({ next_cursor: v.optional(v.string(), "") }), { next_cursor: "" });
const UsersListSchema = v.object({ members: v.array(UserSchema), response_metadata: NextCursor });
const ConversationsListSchema = v.object({ channels: v.array(ConversationSchema), response_metadata: NextCursor });
const UsersInfoSchema = v.object({ user: UserSchema });
const ConversationInfoSchema = v.object({ channel: ConversationSchema });

/** Conversation types to list, widest first: asking for one the app has no scope for fails the call. */
const TYPE_SETS = ["public_channel,private_channel,mpim", "public_channel,private_channel", "public_channel"];

/**
 * Names → ids for users and channels. The whole directory is reloaded after `ttlMs`, and on a
 * name miss at most every `missRefreshMs`; an id not in it is fetched on its own and kept.
 * Id lookups throw Slack's SendError (`user_not_found`, `channel_not_found`, ...); name lookups
 * answer undefined when nothing matches.
 */
export class SlackDirectory {
  private users = new Map<string, SlackUser>();
  private rooms = new Map<string, SlackConversation>();
  private loadedAt = -Infinity;
  private loading?: Promise<void>;
  /** Index into TYPE_SETS of the widest set the app's scopes allow (learnt once). */
  private typeSet = 0;

  constructor(private readonly call: Call, private readonly ttlMs: number, private readonly missRefreshMs: number) {}

  async user(id: string): Promise<SlackUser> {
    return this.users.get(id) ?? keep(this.users, (await this.call("users.info", { user: id }, UsersInfoSchema)).user);
  }

  async room(id: string): Promise<SlackConversation> {
    return this.rooms.get(id) ?? keep(this.rooms, (await this.call("conversations.info", { channel: id }, ConversationInfoSchema)).channel);
  }

  /** A person by handle, display name or real name (the first match, in that order). */
  async userByName(name: string): Promise<SlackUser | undefined> {
    const lower = name.toLowerCase();
    return this.lookup(() => {
      const live = [...this.users.values()].filter((u) => !u.deleted);
      return live.find((u) => u.name.toLowerCase() === lower)
        ?? live.find((u) => u.profile.display_name?.toLowerCase() === lower)
        ?? live.find((u) => (u.profile.real_name ?? u.real_name)?.toLowerCase() === lower);
    });
  }

  /** A live channel (not a DM, not archived) by name. */
  async roomByName(name: string): Promise<SlackConversation | undefined> {
    const lower = name.toLowerCase();
    return this.lookup(() => [...this.rooms.values()].find((c) => !c.is_im && !c.is_archived && c.name?.toLowerCase() === lower));
  }

  private async lookup<T>(find: () => T | undefined): Promise<T | undefined> {
    if (Date.now() - this.loadedAt >= this.ttlMs) {
      await this.reload().catch((err: unknown) => {
        // An expired directory still answers while Slack refuses a reload; an empty one cannot.
        if (this.loadedAt === -Infinity) throw err;
        log.warn("could not reload the Slack directory; using the last one", { error: String(err) });
      });
    }
    const hit = find();
    if (hit !== undefined || Date.now() - this.loadedAt < this.missRefreshMs) return hit;
    await this.reload();
    return find();
  }

  /** Concurrent callers share one load. */
  private reload(): Promise<void> {
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async load(): Promise<void> {
    const users = await this.pages("users.list", {}, UsersListSchema, (r) => r.members);
    const rooms = await this.conversations();
    this.users = new Map(users.map((u) => [u.id, u]));
    this.rooms = new Map(rooms.map((c) => [c.id, c]));
    this.loadedAt = Date.now();
    log.debug("directory loaded", { users: users.length, channels: rooms.length });
  }

  /**
   * Every conversation the bot may name. `missing_scope` narrows the types asked for, so an app
   * without groups:read / mpim:read still resolves public channels.
   */
  private async conversations(): Promise<SlackConversation[]> {
    for (; ; this.typeSet++) {
      const types = TYPE_SETS[this.typeSet]!;
      try {
        return await this.pages("conversations.list", { types, exclude_archived: true }, ConversationsListSchema, (r) => r.channels);
      } catch (err) {
        if (!isSlackError(err, "missing_scope") || this.typeSet === TYPE_SETS.length - 1) throw err;
        log.warn("the Slack app may not list some conversation types; add the scope to resolve them by name", { types });
      }
    }
  }

  private async pages<R extends { response_metadata: { next_cursor: string } }, T>(
    method: string, args: Record<string, unknown>, schema: v.GenericSchema<unknown, R>, items: (r: R) => T[],
  ): Promise<T[]> {
    const out: T[] = [];
    let cursor = "";
    do {
      const page = await this.call(method, { ...args, limit: 200, ...(cursor ? { cursor } : {}) }, schema);
      out.push(...items(page));
      cursor = page.response_metadata.next_cursor;
    } while (cursor);
    return out;
  }
}

/** Adds `item` to `map` by its id until the next full reload, and returns it. */
function keep<T extends { id: string }>(map: Map<string, T>, item: T): T {
  map.set(item.id, item);
  return item;
}
