/**
 * Mattermost users and channels by id and by name, validated at the boundary and cached for a
 * while, plus the bot's direct channel with each person.
 */
import * as v from "valibot";
import { SendError } from "../../lib/errors.ts";
import { TtlCache } from "../ttl-cache.ts";
import { lookupFailure, NotFoundError } from "./errors.ts";
import type { MattermostSession } from "./session.ts";

export const UserSchema = v.object({
  id: v.string(),
  username: v.string(),
  first_name: v.optional(v.string(), ""),
  last_name: v.optional(v.string(), ""),
  email: v.optional(v.string(), ""),
});
/** A Mattermost user as `/users/*` describes them. */
export type User = v.InferOutput<typeof UserSchema>;

const ChannelSchema = v.object({
  id: v.string(),
  name: v.string(),
  display_name: v.optional(v.string(), ""),
  type: v.string(),
});
/** A channel (open `O`, private `P`, direct `D`, group `G`) as `/channels/*` describes it. */
export type Channel = v.InferOutput<typeof ChannelSchema>;

/**
 * Lookups through the session's REST client. Each throws NotFoundError when Mattermost has no
 * such user or channel, a final SendError when the bot may not see it, and a retryable one
 * otherwise. Names are case-insensitive; users are cached as `id` and `@name`, channels as `id`
 * and `~name`.
 */
export class MattermostDirectory {
  private readonly users: TtlCache<User>;
  private readonly channels: TtlCache<Channel>;
  /** user id → id of the bot's direct channel with them. */
  private readonly directs: TtlCache<string>;

  constructor(private readonly session: MattermostSession, ttlMs: number) {
    this.users = new TtlCache(ttlMs);
    this.channels = new TtlCache(ttlMs);
    this.directs = new TtlCache(ttlMs);
  }

  async userById(id: string): Promise<User> {
    return this.users.get(id) ?? this.rememberUser(await this.lookup(() => this.session.client.getUser(id), UserSchema, `user ${id}`));
  }

  async userByName(name: string): Promise<User> {
    const lower = name.toLowerCase();
    return this.users.get(`@${lower}`) ?? this.rememberUser(await this.lookup(() => this.session.client.getUserByUsername(lower), UserSchema, `user @${name}`));
  }

  /** Keeps `u` (the bot itself, a fresh lookup) for the cache's lifetime. */
  rememberUser(u: User): User {
    this.users.set(`@${u.username}`, u);
    return this.users.set(u.id, u);
  }

  async channelById(id: string): Promise<Channel> {
    return this.channels.get(id) ?? this.rememberChannel(await this.lookup(() => this.session.client.getChannel(id), ChannelSchema, `channel ${id}`));
  }

  /** Channel names are unique per team only; without the session's team, a name reads as nothing. */
  async channelByName(name: string): Promise<Channel> {
    const teamId = this.session.teamId;
    if (!teamId) throw new NotFoundError(`channel ~${name} (mattermost.team is not set)`);
    const lower = name.toLowerCase();
    return this.channels.get(`~${lower}`) ?? this.rememberChannel(await this.lookup(() => this.session.client.getChannelByName(teamId, lower), ChannelSchema, `channel ~${name}`));
  }

  private rememberChannel(c: Channel): Channel {
    this.channels.set(`~${c.name}`, c);
    return this.channels.set(c.id, c);
  }

  /** Notes the direct channel a person wrote to the bot in, so replies need no lookup. */
  rememberDirect(userId: string, channelId: string): void {
    this.directs.set(userId, channelId);
  }

  /** The direct channel between the bot and a person, created on first use as Errbot does. */
  async directChannel(userId: string): Promise<string> {
    const cached = this.directs.get(userId);
    if (cached) return cached;
    const me = this.session.me?.id;
    if (!me) throw new SendError("Mattermost: not logged in yet", true);
    const channel = await this.lookup(() => this.session.client.createDirectChannel([me, userId]), ChannelSchema, `user ${userId}`);
    return this.directs.set(userId, channel.id);
  }

  private async lookup<S extends v.GenericSchema>(fn: () => Promise<unknown>, schema: S, what: string): Promise<v.InferOutput<S>> {
    let raw: unknown;
    try {
      raw = await this.session.call(fn, what);
    } catch (err) {
      throw lookupFailure(err, what);
    }
    const parsed = v.safeParse(schema, raw);
    if (!parsed.success) throw new SendError(`Mattermost: unexpected answer for ${what}`, true);
    return parsed.output;
  }
}
