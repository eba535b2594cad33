/**
 * A person's XMPP chat client for tests against a real prosody: a plain @xmpp/client that keeps
 * every message and presence it receives and, like a desktop client, rejoins its rooms after
 * @xmpp/client reconnects on its own (server restart, dropped socket).
 */
import { client as sdkClient, xml, type XmlElement, type XmppClient } from "@xmpp/client";
import { NS } from "../../src/chat/xmpp/ns.ts";
import { waitFor } from "./wait.ts";

/** Who connects, and where. */
export interface PersonAccount {
  /** `xmpp://127.0.0.1:<port>` (Prosody.service). */
  service: string;
  username: string;
  password: string;
  /** Default `harness`: the person's full JID is `username@domain/resource`. */
  resource?: string;
  /** Default `localhost`. */
  domain?: string;
}

/** How to join a room (kept, and used again for every rejoin after a reconnect). */
export interface RoomOptions {
  /** The room's password, sent with the join. */
  password?: string;
  /** Configuration to submit when the join creates the room (default: the server's). */
  create?: { password?: string; whois?: "anyone" | "moderators"; persistent?: boolean };
  /** Ask for no history (the default is the room's). */
  noHistory?: boolean;
}

/** A person's chat client: receives everything, rejoins its rooms after reconnecting. */
export class XmppPerson {
  /** Every message stanza received, in order. */
  readonly received: XmlElement[] = [];
  /** Every presence stanza received, in order. */
  readonly presences: XmlElement[] = [];
  /** Rooms the person is in right now (emptied on disconnect, refilled by each rejoin). */
  readonly joined = new Set<string>();
  private readonly rooms = new Map<string, { nick: string; opts: RoomOptions }>();

  private constructor(
    readonly client: XmppClient,
    /** The person's full JID. */
    readonly jid: string,
  ) {
    client.on("error", () => undefined);
    client.on("stanza", (s: XmlElement) => {
      if (s.is("message")) this.received.push(s);
      if (s.is("presence")) this.presences.push(s);
    });
    client.on("disconnect", () => this.joined.clear());
    // After @xmpp/client's own reconnect: presence again and back into the rooms.
    client.on("online", () => {
      if (this.rooms.size === 0) return;
      void client.send(xml("presence")).then(() => Promise.all([...this.rooms].map(([room, r]) => this.join(room, r.nick, r.opts).catch(() => undefined))));
    });
  }

  /** Logs in and sends initial presence; rejects when the login fails. */
  static async connect(account: PersonAccount): Promise<XmppPerson> {
    const { service, username, password, resource = "harness", domain = "localhost" } = account;
    const client = sdkClient({ service, domain, username, password, resource });
    const person = new XmppPerson(client, `${username}@${domain}/${resource}`);
    await client.start();
    await client.send(xml("presence"));
    return person;
  }

  /**
   * Joins `room` as `nick` (creating and configuring it when it does not exist yet) and rejoins
   * it after every reconnect. Rejects with the MUC error's condition (e.g. `not-authorized`).
   */
  async joinRoom(room: string, nick: string, opts: RoomOptions = {}): Promise<void> {
    await this.join(room, nick, opts);
    this.rooms.set(room, { nick, opts });
  }

  private async join(room: string, nick: string, opts: RoomOptions): Promise<void> {
    const start = this.presences.length;
    const x = xml("x", { xmlns: NS.muc }, opts.noHistory && xml("history", { maxstanzas: "0" }), opts.password !== undefined && xml("password", null, opts.password));
    await this.client.send(xml("presence", { to: `${room}/${nick}` }, x));
    const answer = await waitFor(`${this.jid} to join ${room}`, () =>
      this.presences.slice(start).find((p) => p.attrs.from?.startsWith(`${room}/`) || p.attrs.from === room ? p.attrs.type === "error" || statusCodes(p).has("110") : false),
    );
    if (answer.attrs.type === "error") throw new Error(`${this.jid} cannot join ${room}: ${errorName(answer)}`);
    if (statusCodes(answer).has("201")) await this.configure(room, opts.create ?? {});
    this.joined.add(room);
  }

  private async configure(room: string, c: NonNullable<RoomOptions["create"]>): Promise<void> {
    const field = (name: string, value: string) => xml("field", { var: name }, xml("value", null, value));
    const form = xml(
      "x",
      { xmlns: NS.dataForms, type: "submit" },
      field("FORM_TYPE", "http://jabber.org/protocol/muc#roomconfig"),
      c.persistent !== undefined && field("muc#roomconfig_persistentroom", c.persistent ? "1" : "0"),
      c.whois !== undefined && field("muc#roomconfig_whois", c.whois),
      c.password !== undefined && field("muc#roomconfig_passwordprotectedroom", "1"),
      c.password !== undefined && field("muc#roomconfig_roomsecret", c.password),
    );
    await this.client.iqCaller.request(xml("iq", { type: "set", to: room }, xml("query", { xmlns: NS.mucOwner }, form)));
  }

  /** Throws unless online (and in `room`): a stanza sent otherwise would be lost silently. */
  private ready(room?: string): void {
    if (this.client.status !== "online" || (room && !this.joined.has(room))) throw new Error(`${this.jid} is not ready to talk${room ? ` in ${room}` : ""}`);
  }

  /** Says `text` in `room`; throws when not (yet, or no longer) in it. */
  async say(room: string, text: string): Promise<void> {
    this.ready(room);
    await this.client.send(xml("message", { to: room, type: "groupchat" }, xml("body", null, text)));
  }

  /** Sends `text` directly to `to` (a JID, or `room/nick` for a private message through a room). */
  async dm(to: string, text: string, ...extra: XmlElement[]): Promise<void> {
    this.ready();
    await this.client.send(xml("message", { to, type: "chat" }, xml("body", null, text), ...extra));
  }

  /** The first message received whose body contains `text` (waits up to 10 s for it). */
  message(text: string): Promise<XmlElement> {
    return waitFor(`"${text}" at ${this.jid}`, () => this.received.find((m) => m.getChildText("body")?.includes(text)));
  }

  /** True when `occupant` (`room/nick`) is in one of the person's rooms, by the last presence seen from it. */
  sees(occupant: string): boolean {
    const last = this.presences.findLast((p) => p.attrs.from === occupant);
    return last !== undefined && last.attrs.type !== "unavailable" && last.attrs.type !== "error";
  }

  /** Stops reconnecting and closes the session (bounded: a dead server does not hang teardown). */
  async close(): Promise<void> {
    this.client.reconnect.stop();
    await Promise.race([this.client.stop().catch(() => undefined), Bun.sleep(3_000)]);
  }
}

function statusCodes(p: XmlElement): Set<string | undefined> {
  return new Set((p.getChild("x", NS.mucUser)?.getChildren("status") ?? []).map((s) => s.attrs.code));
}

/** The defined condition of an error stanza (`not-authorized`, `item-not-found`, ...). */
function errorName(stanza: XmlElement): string {
  const error = stanza.getChild("error");
  return error?.children.find((c): c is XmlElement => typeof c !== "string" && c.name !== "text")?.name ?? "error";
}

