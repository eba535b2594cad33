/**
 * The Slack emulator's state: the bot, the people and conversations of the workspace, the ts
 * clock, and how Slack looks them up, pages them and shows them as JSON. No wire here: the Web
 * API (web-api.ts) and the Socket Mode events (envelopes.ts) both read it.
 */
import { ApiError, type Args, defaultWorkspace, optInt, optString, type SlackChannelFixture, type SlackEmulatorOptions, type SlackUserFixture, TEAM } from "./wire.ts";

/** A conversation as the workspace keeps it: a channel, or a DM (`is_im`, with its `user`). */
export type Conversation = SlackChannelFixture & { is_im?: boolean; user?: string };

/** People, conversations and the bot of one emulated workspace. */
export class Workspace {
  readonly bot: { id: string; name: string; botId: string };
  readonly users = new Map<string, SlackUserFixture>();
  readonly channels = new Map<string, Conversation>();
  /** `channel:ts` of people's messages, which the bot may not update. */
  readonly userMessages = new Set<string>();
  private seq = 0;
  private readonly maxPageSize: number;

  constructor(opts: SlackEmulatorOptions) {
    const ws = defaultWorkspace();
    this.bot = opts.bot ?? ws.bot;
    for (const u of opts.users ?? ws.users) this.users.set(u.id, u);
    for (const c of opts.channels ?? ws.channels) this.addChannel(c);
    this.maxPageSize = opts.maxPageSize ?? 1000;
  }

  addChannel(channel: SlackChannelFixture): void {
    this.channels.set(channel.id, { ...channel, members: [...channel.members] });
  }

  /** A number that grows with every use: event ids, socket ids, trigger ids. */
  next(): number {
    return ++this.seq;
  }

  /** A message `ts` (seconds.sequence), unique within the run. */
  nextTs(): string {
    return `${Math.floor(Date.now() / 1000)}.${String(this.next() % 1_000_000).padStart(6, "0")}`;
  }

  /** Where chat.postMessage may post: an id, a channel name (`#x`/`x`), or a user id (the bot's DM). */
  postTarget(target: string): Conversation {
    const user = this.users.get(target);
    if (user) {
      if (user.is_bot) throw new ApiError("channel_not_found");
      return this.openIm(user.id);
    }
    const conv = this.findConversation(target);
    if (!conv) throw new ApiError("channel_not_found");
    if (conv.is_im) return conv;
    const member = conv.members.includes(this.bot.id);
    if (conv.is_private && !member) throw new ApiError("channel_not_found");
    if (conv.is_archived) throw new ApiError("is_archived");
    if (!member) throw new ApiError("not_in_channel");
    return conv;
  }

  /** A conversation by id that the bot can see (a private one only as a member). */
  visibleConversation(id: string): Conversation {
    const conv = this.channels.get(id);
    if (!conv || (conv.is_private && !conv.members.includes(this.bot.id))) throw new ApiError("channel_not_found");
    return conv;
  }

  findConversation(idOrName: string): Conversation | undefined {
    const byId = this.channels.get(idOrName);
    if (byId) return byId;
    const name = idOrName.replace(/^#/, "");
    return [...this.channels.values()].find((c) => !c.is_im && c.name === name);
  }

  /** The DM between `user` and the bot, created on first use like conversations.open. */
  openIm(user: string): Conversation {
    const existing = [...this.channels.values()].find((c) => c.is_im && c.user === user);
    if (existing) return existing;
    const im = { id: `D${user.slice(1)}`, name: "", is_im: true, user, members: [user, this.bot.id] };
    this.channels.set(im.id, im);
    return im;
  }

  /** One page of a list call (`limit`, `cursor`), never larger than maxPageSize. */
  page<T>(items: T[], args: Args, kind: string): { page: T[]; next: string } {
    const limit = optInt(args, "limit") ?? 0;
    const size = Math.min(limit > 0 ? limit : this.maxPageSize, this.maxPageSize);
    const cursor = optString(args, "cursor");
    let start = 0;
    if (cursor) {
      const decoded = /^(\w+):(\d+)$/.exec(Buffer.from(cursor, "base64").toString());
      if (!decoded || decoded[1] !== kind) throw new ApiError("invalid_cursor");
      start = Number(decoded[2]);
    }
    const end = start + size;
    const next = end < items.length ? Buffer.from(`${kind}:${end}`).toString("base64") : "";
    return { page: items.slice(start, end), next };
  }

  userJson(u: SlackUserFixture): Record<string, unknown> {
    const profile: Record<string, unknown> = {
      real_name: u.real_name ?? "",
      real_name_normalized: u.real_name ?? "",
      display_name: u.display_name ?? "",
      display_name_normalized: u.display_name ?? "",
      team: TEAM.id,
    };
    if (u.email) profile.email = u.email;
    if (u.is_bot) profile.bot_id = this.bot.botId;
    return {
      id: u.id, team_id: TEAM.id, name: u.name, deleted: u.deleted ?? false, real_name: u.real_name ?? "",
      tz: "Europe/London", profile, is_admin: false, is_owner: false, is_bot: u.is_bot ?? false, is_app_user: false, updated: 1700000000,
    };
  }

  channelJson(c: Conversation): Record<string, unknown> {
    if (c.is_im) return { id: c.id, created: 1700000000, is_im: true, is_org_shared: false, user: c.user, is_user_deleted: false, priority: 0 };
    return {
      id: c.id, name: c.name, is_channel: !c.is_private, is_group: false, is_im: false, is_mpim: false, is_private: c.is_private ?? false,
      created: 1700000000, is_archived: c.is_archived ?? false, is_general: c.name === "general", name_normalized: c.name,
      is_member: c.members.includes(this.bot.id), topic: { value: "", creator: "", last_set: 0 }, purpose: { value: "", creator: "", last_set: 0 },
      num_members: c.members.length,
    };
  }
}
