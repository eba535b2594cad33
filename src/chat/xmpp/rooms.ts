/**
 * The multi-user chat rooms (XEP-0045) of `[xmpp] rooms`: joined with their passwords and
 * without history, with a nick variant when ours is taken, configured when we created them,
 * rejoined after a kick or a failed join, and the occupants' real JIDs where a room reveals them.
 */
import { xml, type XmlElement } from "@xmpp/client";
import type { XmppRoomSettings } from "./settings.ts";
import { ConfigError, describeError } from "../../lib/errors.ts";
import { logger, registerSecret } from "../../lib/log.ts";
import { errorCondition } from "./errors.ts";
import { parseJid } from "./jid.ts";
import { NS } from "./ns.ts";

/** One configured room and where we stand in it. */
export interface RoomState {
  /** The room's bare JID. */
  jid: string;
  password?: string;
  nick: string;
  /** The nick the room confirmed (it may differ after a conflict). */
  currentNick?: string;
  joined: boolean;
  lastError?: string;
}

/** What the rooms need from the connection. */
export interface RoomsLink {
  send(stanza: XmlElement): Promise<void>;
  request(iq: XmlElement, timeoutMs: number): Promise<XmlElement>;
  /** True while the session is up and the backend is not stopped. */
  isOnline(): boolean;
  /** Called after each round of joins: which rooms are missing, undefined when none. */
  report(missing: string | undefined): void;
}

export interface JoinTiming {
  /** How long to wait for a room to confirm a join. */
  joinTimeoutMs?: number;
  /** Rooms that could not be joined are tried again after this long. */
  joinRetryMs?: number;
}

interface PendingJoin {
  nick: string;
  resolve(result: { nick: string; created: boolean }): void;
  reject(err: JoinError): void;
}

/** A join that did not happen; `condition` is the room's error condition or our own reason. */
class JoinError extends Error {
  constructor(readonly condition: string) {
    super(condition);
  }
}

const log = logger("chat.xmpp");

/** The configured rooms; throws ConfigError for a room that is not a bare room JID. */
export class Rooms {
  private readonly rooms = new Map<string, RoomState>();
  /** Occupant JID → real bare JID, where the room reveals it. */
  private readonly occupants = new Map<string, string | undefined>();
  private readonly pendingJoins = new Map<string, PendingJoin>();
  private readonly joinTimeoutMs: number;
  private readonly joinRetryMs: number;
  private rejoinTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(configured: readonly XmppRoomSettings[], defaultNick: string, private readonly link: RoomsLink, timing: JoinTiming = {}) {
    for (const room of configured) {
      const jid = parseJid(room.jid);
      if (!jid?.local || jid.resource) throw new ConfigError(`xmpp.rooms: "${room.jid}" is not a room JID such as ops@conference.example.com`);
      registerSecret(room.password);
      this.rooms.set(jid.bare, { jid: jid.bare, password: room.password, nick: room.nick ?? defaultNick, joined: false });
    }
    this.joinTimeoutMs = timing.joinTimeoutMs ?? 10_000;
    this.joinRetryMs = timing.joinRetryMs ?? 30_000;
  }

  // --- lookups ---------------------------------------------------------------------------------

  /** The configured room with this bare JID. */
  get(bare: string): Readonly<RoomState> | undefined {
    return this.rooms.get(bare);
  }

  /** The configured room named by its JID, its local part or `#local`. */
  find(text: string): Readonly<RoomState> | undefined {
    const name = text.replace(/^#/, "").toLowerCase();
    if (name.includes("@")) {
      const jid = parseJid(name);
      return jid && !jid.resource ? this.rooms.get(jid.bare) : undefined;
    }
    return [...this.rooms.values()].find((r) => r.jid.split("@")[0] === name);
  }

  /** True when one of the configured rooms lives on `domain` (so its JIDs are occupants, not people). */
  isMucDomain(domain: string): boolean {
    return [...this.rooms.values()].some((r) => r.jid.endsWith(`@${domain}`));
  }

  /** Our nick in each room (the confirmed one once joined). */
  nicks(): string[] {
    return [...this.rooms.values()].map((r) => r.currentNick ?? r.nick);
  }

  /** The real bare JID behind an occupant JID (`room@conf/nick`), when the room revealed it. */
  realJid(occupant: string): string | undefined {
    return this.occupants.get(occupant);
  }

  // --- joining ---------------------------------------------------------------------------------

  /** Joins every room not joined yet, reports the ones that failed and retries them later. */
  async joinAll(): Promise<void> {
    const missing = [...this.rooms.values()].filter((r) => !r.joined);
    await Promise.all(missing.map((room) => this.join(room)));
    if (!this.link.isOnline()) return;
    const failed = [...this.rooms.values()].filter((r) => !r.joined);
    this.link.report(failed.length ? `not in ${failed.map((r) => `${r.jid} (${r.lastError})`).join(", ")}; retrying` : undefined);
    if (failed.length) this.scheduleRejoin();
    else clearTimeout(this.rejoinTimer);
  }

  /** The session is gone (`disconnected` or `stopped`): nothing joined survives it. */
  reset(reason: string): void {
    clearTimeout(this.rejoinTimer);
    for (const room of this.rooms.values()) room.joined = false;
    this.occupants.clear();
    for (const pending of this.pendingJoins.values()) pending.reject(new JoinError(reason));
  }

  /** Tracks joins, occupants and removals from a room's presence; other presences are ignored. */
  onPresence(stanza: XmlElement): void {
    const from = parseJid(stanza.attrs.from ?? "");
    const room = from && this.rooms.get(from.bare);
    if (!from || !room) return;
    const type = stanza.attrs.type;
    const pending = this.pendingJoins.get(room.jid);
    if (type === "error") {
      pending?.reject(new JoinError(errorCondition(stanza)));
      return;
    }
    if (!from.resource) return;
    const x = stanza.getChild("x", NS.mucUser);
    const codes = new Set((x?.getChildren("status") ?? []).map((s) => s.attrs.code));
    const self = codes.has("110");
    if (type === "unavailable") {
      this.occupants.delete(from.full);
      // 303 is a nick change, not a departure.
      if (self && room.joined && !codes.has("303")) this.leftRoom(room, codes);
      return;
    }
    const realJid = x?.getChild("item")?.attrs.jid;
    this.occupants.set(from.full, realJid ? parseJid(realJid)?.bare : undefined);
    if (self) {
      room.currentNick = from.resource;
      pending?.resolve({ nick: from.resource, created: codes.has("201") });
    }
  }

  private scheduleRejoin(): void {
    clearTimeout(this.rejoinTimer);
    this.rejoinTimer = setTimeout(() => void this.joinAll(), this.joinRetryMs);
  }

  private async join(room: RoomState): Promise<void> {
    let nick = room.nick;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const { nick: confirmed, created } = await this.requestJoin(room, nick);
        room.joined = true;
        room.currentNick = confirmed;
        room.lastError = undefined;
        if (created) await this.configureNewRoom(room);
        log.info(`joined ${room.jid} as ${confirmed}`);
        return;
      } catch (err) {
        const condition = err instanceof JoinError ? err.condition : describeError(err);
        // Someone (often our own ghost from before a drop) holds the nick: take a variant.
        if (condition === "conflict") {
          nick = `${nick}_`;
          continue;
        }
        // Retries repeat the same refusal: say it once per change, not every retry.
        if (condition !== room.lastError && condition !== "disconnected" && condition !== "stopped") log.warn(`cannot join ${room.jid}: ${condition}`);
        room.lastError = condition;
        return;
      }
    }
    room.lastError = "nick in use";
  }

  /** Sends the join presence (with the password, asking for no history) and waits for the room. */
  private requestJoin(room: RoomState, nick: string): Promise<{ nick: string; created: boolean }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => settle(() => reject(new JoinError("the room did not answer"))), this.joinTimeoutMs);
      const settle = (fn: () => void) => {
        clearTimeout(timer);
        if (this.pendingJoins.get(room.jid) === pending) this.pendingJoins.delete(room.jid);
        fn();
      };
      const pending: PendingJoin = {
        nick,
        resolve: (result) => settle(() => resolve(result)),
        reject: (err) => settle(() => reject(err)),
      };
      this.pendingJoins.get(room.jid)?.reject(new JoinError("superseded"));
      this.pendingJoins.set(room.jid, pending);
      const x = xml("x", { xmlns: NS.muc }, xml("history", { maxstanzas: "0" }), room.password !== undefined && xml("password", null, room.password));
      this.link.send(xml("presence", { to: `${room.jid}/${nick}` }, x)).catch((err: unknown) => pending.reject(new JoinError(describeError(err))));
    });
  }

  /**
   * We created the room (status 201), so it is locked until configured: make it usable, with
   * the configured password if there is one.
   */
  private async configureNewRoom(room: RoomState): Promise<void> {
    const field = (name: string, value: string) => xml("field", { var: name }, xml("value", null, value));
    const form = xml(
      "x",
      { xmlns: NS.dataForms, type: "submit" },
      field("FORM_TYPE", "http://jabber.org/protocol/muc#roomconfig"),
      room.password !== undefined && field("muc#roomconfig_passwordprotectedroom", "1"),
      room.password !== undefined && field("muc#roomconfig_roomsecret", room.password),
    );
    const iq = xml("iq", { type: "set", to: room.jid, id: crypto.randomUUID() }, xml("query", { xmlns: NS.mucOwner }, form));
    await this.link.request(iq, this.joinTimeoutMs).catch((err: unknown) => log.warn(`cannot configure the new room ${room.jid}: ${describeError(err)}`));
  }

  /** The room removed us (kick, ban, shutdown): mark it and try again later. */
  private leftRoom(room: RoomState, codes: Set<string | undefined>): void {
    room.joined = false;
    room.lastError = codes.has("301") ? "banned" : codes.has("307") ? "kicked" : "removed from the room";
    log.warn(`no longer in ${room.jid}: ${room.lastError}`);
    this.scheduleRejoin();
  }
}
