/**
 * The Mattermost emulator's wire shapes: fixtures, stored users, channels and posts, ids, error
 * bodies, and what a client sees of a user, a channel or a post. The server is mattermost.ts.
 */

/** A user the emulated server knows. */
export interface UserFixture {
  username: string;
  id?: string;
  password?: string;
  /** A personal access token that authenticates as this user. */
  token?: string;
  first_name?: string;
  last_name?: string;
  email?: string;
  is_bot?: boolean;
}

/** A channel the emulated server starts with. */
export interface ChannelFixture {
  name: string;
  id?: string;
  display_name?: string;
  /** Open, private, or a group DM ("G", which belongs to no team). */
  type?: "O" | "P" | "G";
  /** Usernames of the members. */
  members: string[];
}

/** The emulated server: its team, users and channels, and the behaviours a test may switch. */
export interface MattermostEmulatorOptions {
  team?: { name: string; display_name?: string; id?: string };
  users: UserFixture[];
  channels: ChannelFixture[];
  /** What `/config/client` reports as MaxPostSize (runes); 16383 as on servers since 5.0. */
  maxPostSize?: number;
  /** Listen on this loopback port (default: a free one), e.g. to play a restarted server. */
  port?: number;
}

/** A user as the server stores it. */
export interface EmuUser {
  id: string;
  username: string;
  first_name: string;
  last_name: string;
  email: string;
  is_bot: boolean;
  password?: string;
  token?: string;
}

/** A channel as the server stores it (`D` for a direct-message channel). */
export interface EmuChannel {
  id: string;
  name: string;
  display_name: string;
  type: "O" | "P" | "D" | "G";
  team_id: string;
  members: Set<string>;
}

/** A post as the server stores it and REST returns it. */
export interface EmuPost {
  id: string;
  create_at: number;
  update_at: number;
  edit_at: number;
  delete_at: number;
  is_pinned: boolean;
  user_id: string;
  channel_id: string;
  root_id: string;
  original_id: string;
  message: string;
  type: string;
  props: Record<string, unknown>;
  hashtags: string;
  pending_post_id: string;
  reply_count: number;
  metadata: Record<string, unknown>;
}

/** Per-WebSocket state of a client connection. */
export interface SocketData {
  userId?: string;
  /** Accepted but never answered: a proxy or server that hangs after the upgrade. */
  silent: boolean;
  seq: number;
  connectionId: string;
}

const ID_ALPHABET = "ybndrfg8ejkmcpqxot1uwisza345h769";

/** A 26-character id in Mattermost's own alphabet (base32 of 16 random bytes). */
export function newId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(26));
  return Array.from(bytes, (b) => ID_ALPHABET[b % 32]).join("");
}

/** A JSON response with the server's version header. */
export const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", "X-Version-Id": "10.5.0.10.5.0.emulator.false", ...headers } });

/** Mattermost's `AppError` body. */
export const appError = (status: number, id: string, message: string) =>
  json({ id, message, detailed_error: "", request_id: newId(), status_code: status }, status);

/** The 404 of an unknown route or resource. */
export const notFound = () => appError(404, "api.context.404.app_error", "Sorry, we could not find the page.");
/** The 403 of a missing permission. */
export const forbidden = () => appError(403, "api.context.permissions.app_error", "You do not have the appropriate permissions.");

/** Whether `props.attachments` is absent or a list of objects. */
export function validAttachments(value: unknown): boolean {
  return value === undefined || (Array.isArray(value) && value.every((a) => typeof a === "object" && a !== null && !Array.isArray(a)));
}

/** What a client sees of a post: actions without their `integration` (Mattermost keeps it on the server). */
export function forClient(post: EmuPost): EmuPost {
  const attachments = post.props.attachments as { actions?: Record<string, unknown>[] }[] | undefined;
  if (!attachments) return post;
  const stripped = attachments.map((a) => (a.actions ? { ...a, actions: a.actions.map(({ integration: _, ...rest }) => rest) } : a));
  return { ...post, props: { ...post.props, attachments: stripped } };
}

/** A user as the REST API shows it. */
export function publicUser(u: EmuUser) {
  return {
    id: u.id, create_at: 0, update_at: 0, delete_at: 0, username: u.username, auth_data: "", auth_service: "",
    email: u.email, nickname: "", first_name: u.first_name, last_name: u.last_name, position: "", roles: "system_user",
    locale: "en", is_bot: u.is_bot, timezone: { automaticTimezone: "", manualTimezone: "", useAutomaticTimezone: "true" },
  };
}

/** A channel as the REST API shows it. */
export function publicChannel(c: EmuChannel) {
  return {
    id: c.id, create_at: 0, update_at: 0, delete_at: 0, team_id: c.team_id, type: c.type, display_name: c.display_name,
    name: c.name, header: "", purpose: "", last_post_at: 0, total_msg_count: 0, extra_update_at: 0, creator_id: "",
    group_constrained: null, shared: false,
  };
}
