/**
 * The Discord emulator's wire shapes: stored messages and channels, gateway sessions, ids,
 * and Discord's error bodies. The server is discord.ts.
 */
import type { ServerWebSocket } from "bun";

/** A message as Discord stores and returns it. */
export interface EmuMessage {
  id: string;
  channel_id: string;
  guild_id?: string;
  author: { id: string; username: string; global_name: string | null; discriminator: string; bot?: boolean };
  content: string;
  embeds: Array<Record<string, unknown>>;
  nonce?: string;
  allowed_mentions?: unknown;
  message_reference?: { message_id: string; channel_id?: string };
  type: number;
  mentions: Array<{ id: string; username: string }>;
  timestamp: string;
}

/** A guild channel or DM channel. */
export interface EmuChannel {
  id: string;
  type: number;
  name?: string;
  guild_id?: string;
  parent_id?: string;
  recipients?: string[];
}

/** A gateway session, kept across reconnects for RESUME. */
export interface Session {
  id: string;
  seq: number;
  /** Every dispatch of the session, for a RESUME's replay. */
  events: Array<{ s: number; t: string; d: unknown }>;
  socket?: ServerWebSocket<Conn>;
}

/** Per-WebSocket state of a gateway connection. */
export interface Conn {
  session?: Session;
  identified: boolean;
}

/** The bot token and the behaviours a test may switch. */
export interface DiscordEmulatorOptions {
  token: string;
  /** Heartbeat interval sent in HELLO (ms; Discord's is about 41 s). */
  heartbeatIntervalMs?: number;
  /** False: the Message Content intent is off in the portal, IDENTIFY with it closes 4014. */
  messageContentAllowed?: boolean;
  /** Per-channel message bucket (Discord: 5 per 5 s). */
  bucket?: { limit: number; windowMs: number };
}

let nextId = 1_180_000_000_000_000_000n;
/** A fresh, increasing snowflake id. */
export const snowflake = () => String(nextId++);

/** Discord's error answers, status and body. */
export const ERR = {
  unauthorized: { status: 401, body: { message: "401: Unauthorized", code: 0 } },
  unknownChannel: { status: 404, body: { message: "Unknown Channel", code: 10003 } },
  unknownUser: { status: 404, body: { message: "Unknown User", code: 10013 } },
  empty: { status: 400, body: { message: "Cannot send an empty message", code: 50006 } },
  unknownGuild: { status: 404, body: { message: "Unknown Guild", code: 10004 } },
  notFound: { status: 404, body: { message: "404: Not Found", code: 0 } },
};

/** A JSON response. */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}
