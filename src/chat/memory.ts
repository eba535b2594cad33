/**
 * An in-memory backend (Errbot's test backend): tests push a message and read what the bot
 * sent, without I/O. It can be told to fail sends, to test delivery and retries.
 */
import { SendError } from "../lib/errors.ts";
import type { Rate } from "../lib/rate.ts";
import type { BackendStatus, ChatBackend, Message, MessageHandler, Outgoing, Target } from "./types.ts";

/** One message the bot sent, as the memory backend recorded it. */
export interface SentMessage {
  target: Target;
  text: string;
  extra?: Record<string, unknown>;
  at: number;
}

/** How the memory backend presents itself; every field has a default. */
export interface MemoryBackendOptions {
  name?: string;
  maxMessageLength?: number;
  sendRate?: Rate;
  overallSendRate?: Rate;
  /** Users and rooms that exist, for `resolve`. Default: any name resolves. */
  users?: string[];
  rooms?: string[];
}

type FailMode = { kind: "error"; retryable: boolean; retryAfterMs?: number } | { kind: "hang" };

/** The in-memory backend: `receive` plays a person typing, `sent` holds what the bot said. */
export class MemoryBackend implements ChatBackend {
  readonly name: string;
  readonly maxMessageLength: number;
  readonly sendRate?: Rate;
  readonly overallSendRate?: Rate;
  readonly sent: SentMessage[] = [];
  private handler?: MessageHandler;
  private state: BackendStatus = { state: "disconnected", since: Date.now() };
  private failures: FailMode[] = [];
  private failUntil = 0;

  constructor(private readonly opts: MemoryBackendOptions = {}) {
    this.name = opts.name ?? "memory";
    this.maxMessageLength = opts.maxMessageLength ?? 4000;
    this.sendRate = opts.sendRate;
    this.overallSendRate = opts.overallSendRate;
  }

  async start(onMessage: MessageHandler): Promise<void> {
    this.handler = onMessage;
    this.state = { state: "connected", since: Date.now() };
  }

  async stop(): Promise<void> {
    this.state = { state: "stopped", since: Date.now() };
  }

  status(): BackendStatus {
    return this.state;
  }

  botNames(): string[] {
    return ["st2bot", "@st2bot"];
  }

  /** Delivers a message as if a person typed it; resolves when the bot has handled it. */
  async receive(msg: Partial<Message> & { text: string; user?: string; roomName?: string }): Promise<void> {
    const nick = msg.user ?? "alice";
    const room = msg.roomName ? { id: msg.roomName, name: `#${msg.roomName}` } : msg.room;
    const full: Message = {
      text: msg.text,
      from: msg.from ?? { id: nick, nick, aclId: `@${nick}`, st2User: nick },
      room,
      direct: msg.direct ?? !room,
      thread: msg.thread,
      mentioned: msg.mentioned,
    };
    await this.handler?.(full);
  }

  /** The next `n` sends fail with the given mode. */
  failNext(n: number, mode: FailMode = { kind: "error", retryable: true }): void {
    for (let i = 0; i < n; i++) this.failures.push(mode);
  }

  /** Every send fails (retryably) until `ms` from now. */
  failFor(ms: number): void {
    this.failUntil = Date.now() + ms;
  }

  async send(target: Target, msg: Outgoing): Promise<void> {
    const failure = this.failures.shift();
    if (failure?.kind === "hang") return new Promise(() => {});
    if (failure) throw new SendError("memory backend told to fail", failure.retryable, failure.retryAfterMs);
    if (Date.now() < this.failUntil) throw new SendError("memory backend is failing", true);
    this.sent.push({ target, text: msg.text, extra: msg.extra, at: Date.now() });
  }

  async resolve(kind: "user" | "channel", value: string): Promise<Target> {
    const name = value.replace(/^[@#]/, "");
    // A `channel` may name a person (`@bob`): the source_channel of a direct message.
    const isUser = kind === "user" || value.startsWith("@");
    const known = isUser ? this.opts.users : this.opts.rooms;
    if (known && !known.includes(name)) throw new SendError(`no ${kind} "${value}" on ${this.name}`, false);
    return isUser ? { kind: "user", id: name, name: `@${name}` } : { kind: "room", id: name, name: `#${name}` };
  }

  replyTarget(msg: Message): Target {
    return msg.room ? { kind: "room", id: msg.room.id, name: msg.room.name, thread: msg.thread } : { kind: "user", id: msg.from.id, name: `@${msg.from.nick}` };
  }

  sourceChannel(msg: Message): string {
    return msg.room ? msg.room.name : `@${msg.from.nick}`;
  }
}
