/**
 * The Matrix homeserver emulator's fixtures, wire shapes and answer helpers (the server itself
 * is index.ts): JSON bodies with `Content-Type: application/json`, errors as
 * the spec's `{errcode, error}`, user ids on the emulated server `emu.test`.
 */
export const SERVER_NAME = "emu.test";

export interface UserFixture {
  /** The localpart: `alice` is `@alice:emu.test`. */
  name: string;
  password?: string;
  /** Access tokens that already exist for this user (each its own device). */
  tokens?: string[];
  displayname?: string;
}

export interface RoomFixture {
  alias?: string;
  /** Localparts of the joined members. */
  members: string[];
  /** Localparts invited (not joined yet). */
  invited?: string[];
  /** Anyone may join (join_rule public). */
  public?: boolean;
  encrypted?: boolean;
  /** A direct chat: recorded in every member's `m.direct`. */
  direct?: boolean;
}

export interface MxEvent {
  type: string;
  event_id: string;
  sender: string;
  room_id: string;
  origin_server_ts: number;
  content: Record<string, unknown>;
  state_key?: string;
}

export interface EmuRoom {
  id: string;
  alias?: string;
  joined: Set<string>;
  invited: Set<string>;
  public: boolean;
  /** Every event, with the stream position it was stored at. */
  timeline: Array<{ pos: number; event: MxEvent }>;
  state: Map<string, MxEvent>;
}

export interface Device {
  userId: string;
  deviceId: string;
}

/** What the bot sent: the room, the event and the transaction id it came with. */
export interface Sent {
  roomId: string;
  txnId: string;
  event: MxEvent;
}

export const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
export const err = (status: number, errcode: string, error: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  json({ errcode, error, ...extra }, status, headers);

export const uid = (name: string) => (name.startsWith("@") ? name : `@${name}:${SERVER_NAME}`);
export const rand = () => crypto.randomUUID().replace(/-/g, "").slice(0, 18);
