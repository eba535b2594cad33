/**
 * What the bot knows of Discord's places and people: channels and threads from GUILD_CREATE and
 * the CHANNEL_/THREAD_ dispatches (so names resolve without a REST call), DM channels opened
 * with `POST /users/@me/channels`, and lookups by id through REST when the cache has nothing.
 */
import type { REST } from "@discordjs/rest";
import { Routes } from "discord-api-types/v10";
import * as v from "valibot";
import { SendError } from "../../lib/errors.ts";
import { isMissing, toSendError } from "./errors.ts";
import { type Channel, ChannelSchema, type DiscordUser, GuildCreateSchema, THREAD_TYPES } from "./events.ts";

const UserSchema = v.object({ id: v.string(), username: v.string(), global_name: v.optional(v.nullable(v.string())) });

/** Text-like channel types a `#name` may mean: text, announcement, forum-less threads excluded. */
const NAMED_TYPES = new Set([0, 5]);

export class DiscordDirectory {
  private readonly channels = new Map<string, Channel>();
  private readonly dms = new Map<string, string>();
  private readonly users = new Map<string, DiscordUser>();
  private readonly guilds = new Set<string>();

  constructor(private readonly rest: REST, private readonly guild: string | undefined) {}

  /** Learns from a dispatch (GUILD_CREATE, CHANNEL_*, THREAD_*); others are ignored. */
  learn(type: string, data: unknown): void {
    if (type === "GUILD_CREATE") {
      const g = v.safeParse(GuildCreateSchema, data);
      if (!g.success || g.output.unavailable) return;
      this.guilds.add(g.output.id);
      for (const c of [...g.output.channels, ...g.output.threads]) this.channels.set(c.id, { ...c, guild_id: g.output.id });
    } else if (/^(CHANNEL|THREAD)_(CREATE|UPDATE)$/.test(type)) {
      const c = v.safeParse(ChannelSchema, data);
      if (c.success) this.channels.set(c.output.id, c.output);
    } else if (/^(CHANNEL|THREAD)_DELETE$/.test(type)) {
      const c = v.safeParse(ChannelSchema, data);
      if (c.success) this.channels.delete(c.output.id);
    }
  }

  /** Remembers a person seen in a message, and the DM channel they wrote from. */
  rememberUser(u: DiscordUser, dmChannel?: string): void {
    this.users.set(u.id, u);
    if (dmChannel) this.dms.set(u.id, dmChannel);
  }

  /** The channel `id`, cached or through `GET /channels/{id}`; undefined when Discord has none the bot may see. */
  channelById(id: string): Promise<Channel | undefined> {
    return this.cached(this.channels, id, Routes.channel(id), ChannelSchema);
  }

  /** The channel called `name` (without `#`) in `guild`, else the configured server, else any the bot is in. */
  channelByName(name: string, guild = this.guild): Channel | undefined {
    const found = [...this.channels.values()].filter((c) => c.name === name && NAMED_TYPES.has(c.type) && (!guild || c.guild_id === guild));
    if (found.length > 1) {
      const servers = new Set(found.map((c) => c.guild_id));
      throw new SendError(`Discord: "#${name}" names a channel in ${servers.size} servers; set discord.guild or use <#id>`, false);
    }
    return found[0];
  }

  /** A thread's parent channel when `channelId` is a thread, else undefined. */
  parentOf(channelId: string): string | undefined {
    const c = this.channels.get(channelId);
    return c && THREAD_TYPES.has(c.type) && c.parent_id ? c.parent_id : undefined;
  }

  /** `#name` for a known channel, else the mention form. */
  roomName(channelId: string): string {
    const name = this.channels.get(channelId)?.name;
    return name ? `#${name}` : `<#${channelId}>`;
  }

  /** The person `id`, cached or through `GET /users/{id}`; undefined when there is none. */
  userById(id: string): Promise<DiscordUser | undefined> {
    return this.cached(this.users, id, Routes.user(id), UserSchema);
  }

  /** `id` from `known`, else `GET route` read with `schema` and kept there; undefined when Discord has none. */
  private async cached<T extends { id: string }>(known: Map<string, T>, id: string, route: `/${string}`, schema: v.GenericSchema<unknown, T>): Promise<T | undefined> {
    const hit = known.get(id);
    if (hit) return hit;
    try {
      const found = v.parse(schema, await this.rest.get(route));
      known.set(found.id, found);
      return found;
    } catch (err) {
      const e = toSendError(`GET ${route}`, err);
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  /** A person seen so far by username (Discord's unique handle, or the legacy `name#1234`). */
  userByName(name: string): DiscordUser | undefined {
    const [username, discriminator] = name.split("#");
    if (discriminator !== undefined && !/^\d{1,4}$/.test(discriminator)) return undefined;
    return [...this.users.values()].find((u) => u.username === username);
  }

  /** The DM channel with `userId`, opened once through `POST /users/@me/channels`. */
  async directChannel(userId: string): Promise<string> {
    const known = this.dms.get(userId);
    if (known) return known;
    try {
      const c = v.parse(ChannelSchema, await this.rest.post(Routes.userChannels(), { body: { recipient_id: userId } }));
      this.dms.set(userId, c.id);
      return c.id;
    } catch (err) {
      const e = toSendError("opening a DM", err);
      if (isMissing(e) || (e as { status?: number }).status === 400) throw new SendError(`Discord: cannot open a DM with <@${userId}> (${e.message})`, false);
      throw e;
    }
  }
}
