/**
 * The Rocket.Chat emulator's wire shapes: fixtures, the stored users, rooms and messages, how
 * REST and DDP render a message, and the server's refusal bodies. The server is rocketchat.ts.
 */

/** A user the emulated server knows. */
export interface RcUserFixture {
  username: string;
  id?: string;
  name?: string;
  password?: string;
  /** A personal access token: REST (with the user id) and the DDP resume login accept it. */
  token?: string;
}

/** A room the emulated server starts with. */
export interface RcRoomFixture {
  name: string;
  id?: string;
  /** Public channel or private group. */
  t?: "c" | "p";
  /** Usernames of the members. */
  members: string[];
}

/** The emulated server: its users and rooms, and the behaviours a test may switch. */
export interface RocketChatEmulatorOptions {
  users: RcUserFixture[];
  rooms: RcRoomFixture[];
  /** How a repeated `_id` on chat.sendMessage is answered (default: as current servers, an error). */
  duplicateIdReply?: "error" | "empty";
  /** `Message_MaxAllowedSize` (default 5000, the server's default). */
  maxAllowedSize?: number;
  /** The server's own DDP ping period (default: none). */
  serverPingMs?: number;
  port?: number;
}

/** A user as the server stores it. */
export interface EmuUser {
  _id: string;
  username: string;
  name: string;
  password?: string;
  token?: string;
}

/** A room as the server stores it (`d` for a direct-message room). */
export interface EmuRoom {
  _id: string;
  t: "c" | "p" | "d";
  name?: string;
  members: Set<string>;
}

/** A message as the server stores it (`ts` and `editedAt` as epoch ms). */
export interface EmuMessage {
  _id: string;
  rid: string;
  msg: string;
  ts: number;
  u: { _id: string; username: string; name: string };
  tmid?: string;
  attachments?: unknown[];
  mentions: { _id: string; username: string; name: string; type: "user" }[];
  t?: string;
  editedAt?: number;
}

/** Per-WebSocket state of a DDP connection. */
export interface SocketData {
  userId?: string;
  subs: Set<string>;
  /** A dead peer: frames are no longer read or answered. */
  silent: boolean;
}

const ALPHABET = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";
/** Meteor's Random.id(): 17 characters. */
export const randomId = () => Array.from(crypto.getRandomValues(new Uint8Array(17)), (b) => ALPHABET[b % ALPHABET.length]).join("");

/** A JSON response, as the server sends every REST answer. */
export const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
/** `API.v1.failure(message, errorType)`. */
export const failure = (error: string, errorType?: string) => json({ success: false, error, ...(errorType ? { errorType } : {}) }, 400);
/** The refusal for a room id or name that names nothing. */
export const ROOM_NOT_FOUND = () => failure('The required "roomId" or "roomName" param provided does not match any channel [error-room-not-found]', "error-room-not-found");

/** A message as REST returns it (dates as ISO strings). */
export const restMessage = (m: EmuMessage) => ({ ...m, ts: new Date(m.ts).toISOString(), _updatedAt: new Date(m.ts).toISOString(), ...(m.editedAt ? { editedAt: new Date(m.editedAt).toISOString() } : {}) });
/** The same message as DDP sends it (EJSON dates). */
export const ddpMessage = (m: EmuMessage) => ({ ...m, ts: { $date: m.ts }, _updatedAt: { $date: m.ts }, ...(m.editedAt ? { editedAt: { $date: m.editedAt } } : {}) });

/** A user as `users.info` and `me` show it to others. */
export function publicUser(u: EmuUser) {
  return { _id: u._id, username: u.username, name: u.name, status: "online", active: true, type: "user", roles: ["user"] };
}
