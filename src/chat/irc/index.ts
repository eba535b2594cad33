/**
 * The IRC backend (irc-framework): the channels of `[irc] channels` and private messages to the
 * bot's nick, on one server. Strings follow issue 14:
 *
 * | message | from.id          | aclId | st2User | sourceChannel |
 * | ------- | ---------------- | ----- | ------- | ------------- |
 * | channel | `nick!user@host` | nick  | nick    | `#channel`    |
 * | private | `nick!user@host` | nick  | nick    | nick          |
 *
 * Sending: Markdown/`extra` rendered with IRC codes (format.ts), split into lines that fit 512
 * bytes once the server prefixes them (lines.ts), written paced and confirmed by a PING round
 * trip (sender.ts). The pieces: connection.ts (session, joins, reconnect), channels.ts,
 * identity.ts (messages, mentions, targets).
 */
import type { PrivmsgEvent } from "irc-framework";
import type { Config } from "../../config/schema.ts";
import { SendError } from "../../lib/errors.ts";
import { logger } from "../../lib/log.ts";
import { requireSection } from "../backend.ts";
import type { ChatBackend, Message, MessageHandler, Outgoing, Target } from "../types.ts";
import { LinkedBackend } from "../linked.ts";
import { Connection, type ConnectionTiming } from "./connection.ts";
import { renderIrc } from "./format.ts";
import { messageOf, resolveTarget } from "./identity.ts";
import { splitLines, textBudget } from "./lines.ts";
import { channelsOf, irc } from "./settings.ts";

/** Injectables for tests; production uses the defaults. */
export type IrcDeps = ConnectionTiming;

/** Creates the IRC backend from `[irc]`; throws ConfigError when `irc.server` is missing. */
export function createIrcBackend(config: Config, deps: IrcDeps = {}): ChatBackend {
  return new IrcBackend(config, deps);
}

const log = logger("chat.irc");

class IrcBackend extends LinkedBackend implements ChatBackend {
  readonly name = "irc";
  /**
   * One message may span many IRC lines (split in bytes by lines.ts); this bounds how many a
   * single result puts in a channel at once (about 8 full lines), the outbox splits longer text.
   */
  readonly maxMessageLength = 3_000;
  /** The connection (session, channels, sender): the link LinkedBackend starts and stops. */
  protected readonly link: Connection;
  private readonly botName: string;

  constructor(config: Config, deps: IrcDeps) {
    super(log);
    const s = requireSection(irc, config);
    this.botName = config.bot.name;
    const nick = s.nick ?? config.bot.name;
    this.link = new Connection(
      {
        host: s.server!, // requireSection checked it
        port: s.port ?? (s.tls ? 6697 : 6667),
        tls: s.tls,
        tlsVerify: s.tls_verify,
        nick,
        username: s.username,
        realname: s.realname,
        ...(s.server_password ? { serverPassword: s.server_password } : {}),
        ...(s.sasl_password ? { sasl: { account: s.sasl_account ?? nick, password: s.sasl_password } } : {}),
        ...(s.nickserv_password ? { nickservPassword: s.nickserv_password } : {}),
        channels: channelsOf(s),
        linesPerSecond: s.lines_per_second,
      },
      deps,
      (e) => this.onPrivmsg(e),
    );
  }

  /** Connects, registers and joins; rejects only when the server refuses the credentials. */
  override async start(onMessage: MessageHandler): Promise<void> {
    if (this.handler) throw new Error("the IRC backend is already started");
    await super.start(onMessage);
  }

  botNames(): string[] {
    const names = [...new Set([this.link.mask().nick, this.botName])];
    return [...names, ...names.map((n) => `@${n}`)];
  }

  /**
   * Resolves once the server processed every line (its PONG to the PING written after them
   * came back) without refusing one; see sender.ts for why that is IRC's confirmation.
   */
  async send(target: Target, msg: Outgoing): Promise<void> {
    // A private message follows its person across nick changes and is refused once they left.
    const to = target.kind === "user" ? this.link.owners.route(target.id) : target.id;
    if (target.kind === "room" && !this.link.channels.isJoined(to)) {
      if (!this.link.channels.isWanted(to)) throw new SendError(`the bot is not in the IRC channel ${to}`, false);
      throw new SendError(`the bot is not in ${to} yet`, true);
    }
    const lines = splitLines(renderIrc(msg), textBudget(this.link.mask(), to) - this.link.sender.budgetCut);
    if (lines.length === 0) return;
    await this.link.sender.send(to, lines);
  }

  async resolve(kind: "user" | "channel", value: string): Promise<Target> {
    return resolveTarget(kind, value, (name) => this.link.channels.canonical(name));
  }

  replyTarget(msg: Message): Target {
    if (msg.room) return { kind: "room", id: msg.room.id, name: msg.room.name };
    return { kind: "user", id: msg.from.nick, name: msg.from.nick };
  }

  /** The `#channel`, or the sender's nick for a private message. */
  sourceChannel(msg: Message): string {
    return msg.room ? msg.room.name : msg.from.nick;
  }

  private onPrivmsg(e: PrivmsgEvent): void {
    const own = this.link.mask().nick;
    const message = messageOf(e, own, [own, this.botName], (name) => (this.link.channels.isJoined(name) ? this.link.channels.canonical(name) : undefined));
    if (!message || !this.handler) return;
    this.link.owners.spoke(e.nick, message.from.id);
    this.deliver(message);
  }
}
