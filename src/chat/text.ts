/**
 * The terminal backend: each stdin line is a message, each bot message a stdout line that shows
 * where it went (`[#ops] ...`, `[direct @alice] ...`). Works interactively and piped.
 * `/as @bob`, `/in #ops` and `/dm` switch the sender and the place; `/help` lists them. On a
 * terminal, text/terminal.ts adds line editing and history and text/markdown.ts styles the
 * Markdown; piped output stays plain, byte for byte.
 */
import { writeSync } from "node:fs";
import type { Config } from "../config/schema.ts";
import { SendError } from "../lib/errors.ts";
import { logger } from "../lib/log.ts";
import { DONE } from "../lib/timeout.ts";
import { sectionOf } from "./backend.ts";
import { text } from "./text/settings.ts";
import { renderMarkdown } from "./text/markdown.ts";
import { readlineTerminal } from "./text/terminal.ts";
import type { BackendStatus, ChatBackend, Message, MessageHandler, Outgoing, Target } from "./types.ts";

const log = logger("chat.text");

/** Where the terminal backend reads and writes (stdin/stdout in production, arrays in tests). */
export interface TextIO {
  /** Lines typed by the person; ends when input closes. */
  lines: AsyncIterable<string>;
  /**
   * Writes `text`; resolves once the output accepted the bytes (the OS took them, or the test's
   * reader read them), rejects when the output is closed. Not when the write call returns: a
   * stalled reader would otherwise have the outbox delete messages nobody can ever see. Returns
   * `WRITTEN` itself when the output took every byte before returning (nothing to wait for).
   */
  write(text: string): Promise<void>;
  interactive: boolean;
  /** The output is a terminal: Markdown is rendered (bold, tables, code); plain when piped. */
  styled?: boolean;
  /** A terminal that draws its own prompt (readline): the backend only says what it reads. */
  setPrompt?(prompt: string): void;
}

/**
 * What `TextIO.write` returns when the output took every byte at once; `send` and `sendMany`
 * then return it too (lib/timeout.ts `DONE`: the outbox confirms such a send in the same turn).
 */
export const WRITTEN: Promise<void> = DONE;

/** Splits a byte stream into lines, decoding UTF-8 whatever the locale. */
export function readLines(stream: ReadableStream<Uint8Array>): AsyncIterable<string> {
  return { [Symbol.asyncIterator]: () => new LineReader(stream) };
}

/**
 * `readLines`' iterator, written by hand on the stream's reader rather than as an async generator
 * over the stream's own iterator: every chat line reaches the loop two promise turns fewer after
 * its bytes arrived. Reads only when asked for a line it does not hold (the loop handles one
 * message at a time); breaking out of the loop cancels the stream, as leaving `for await` over it did.
 */
class LineReader implements AsyncIterator<string> {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder("utf-8");
  private buffer = "";
  private ended = false;
  private readonly took = (read: Bun.ReadableStreamDefaultReadResult<Uint8Array>) => this.take(read);

  constructor(stream: ReadableStream<Uint8Array>) {
    this.reader = stream.getReader();
  }

  next(): Promise<IteratorResult<string>> {
    const line = this.line();
    if (line !== undefined) return Promise.resolve({ value: line, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return this.reader.read().then(this.took);
  }

  async return(): Promise<IteratorResult<string>> {
    this.ended = true;
    this.buffer = "";
    await this.reader.cancel();
    return { value: undefined, done: true };
  }

  private take(read: Bun.ReadableStreamDefaultReadResult<Uint8Array>): IteratorResult<string> | Promise<IteratorResult<string>> {
    if (!read.done) {
      this.buffer += this.decoder.decode(read.value, { stream: true });
      // A line at hand is the result itself: a promise returned here would cost two more turns.
      const line = this.line();
      return line === undefined ? this.next() : { value: line, done: false };
    }
    // The end: what is left after the last newline is the last line.
    this.ended = true;
    const rest = this.buffer + this.decoder.decode();
    this.buffer = "";
    this.reader.releaseLock();
    return rest ? { value: rest, done: false } : { value: undefined, done: true };
  }

  /** The next whole line in the buffer (a CRLF line loses its CR: a char test, no regex per line). */
  private line(): string | undefined {
    const nl = this.buffer.indexOf("\n");
    if (nl < 0) return undefined;
    const line = this.buffer.slice(0, nl > 0 && this.buffer.charCodeAt(nl - 1) === 13 ? nl - 1 : nl);
    this.buffer = this.buffer.slice(nl + 1);
    return line;
  }
}

/**
 * The process's own terminal: readline (editing, history, Markdown shown styled) when stdin and
 * stdout are TTYs; else stdin lines and plain stdout, interactive when stdin is a TTY.
 */
export function stdio(): TextIO {
  if (process.stdin.isTTY && process.stdout.isTTY) return { ...readlineTerminal(), interactive: true, styled: true };
  // Bun's stdout writer switches fd 1 to non-blocking when first used: from then on a direct
  // write(2) on a full pipe fails with EAGAIN instead of stopping the process until the reader
  // reads (tests/chat/text-stdout.test.ts fails should that ever change).
  process.stdout.write("");
  return {
    lines: readLines(Bun.stdin.stream()),
    write: fdWriter(1, (bytes, done) => void process.stdout.write(bytes, done)),
    interactive: Boolean(process.stdin.isTTY),
  };
}

/**
 * A `TextIO.write` for a file descriptor the OS keeps non-blocking (Bun's piped stdout): the
 * bytes are handed to the OS at once with a plain `write(2)`, and the promise resolves as soon
 * as the OS took all of them; whatever it could not take now (a full pipe: `EAGAIN`, a short
 * write) goes to `slow`, which calls back once the reader made room, and every later write
 * queues behind it so the order never changes. A burst of results thus costs one system call
 * each and no turn of the event loop each, while a stalled reader still holds each send
 * unconfirmed (and never blocks the process).
 */
export function fdWriter(fd: number, slow: (bytes: Uint8Array, done: (err?: Error | null) => void) => void): (text: string) => Promise<void> {
  let queued = 0;
  return (text) => {
    let bytes = Buffer.from(text);
    if (queued === 0) {
      try {
        const n = writeSync(fd, bytes);
        if (n === bytes.length) return WRITTEN;
        bytes = bytes.subarray(n);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EAGAIN") return Promise.reject(err);
      }
    }
    queued++;
    return new Promise<void>((resolve, reject) =>
      slow(bytes, (err) => {
        queued--;
        if (err) reject(err);
        else resolve();
      }),
    );
  };
}

const bare = (name: string) => name.replace(/^[@#]/, "");

/** What `/help` shows. */
const HELP = [
  "Terminal commands:",
  "  /as @user   speak as another chat user",
  "  /in #room   speak in a room",
  "  /dm         speak in a direct message with the bot",
  "  /help       this list",
  "Anything else is a chat message (try !st2help). Ctrl-D or Ctrl-C ends once results are in; Ctrl-C twice quits now.",
  "",
].join("\n");

/** The terminal backend (see the module comment); `ended` tells when piped input is used up. */
export class TextBackend implements ChatBackend {
  readonly name = "text";
  readonly maxMessageLength = 8000;
  private user: string;
  private room: string | undefined;
  private state: BackendStatus = { state: "disconnected", since: Date.now() };
  /** Resolves when input has ended and every message read was handled. */
  readonly ended: Promise<void>;
  private markEnded!: () => void;
  /** Whether the prompt is the last thing written, so replies can start on a fresh line. */
  private prompted = false;
  /**
   * Messages written but not yet accepted by the output, by their text. The outbox retries a send
   * that timed out while the reader stalls: the retry waits for the same bytes instead of
   * queueing a second copy behind them.
   */
  private readonly unconfirmed = new Map<string, Promise<void>>();

  /** The bot prefix: a line starting with it is for the bot even when it starts with `/`. */
  private readonly prefix: string;

  constructor(
    config: Config,
    private readonly io: TextIO = stdio(),
  ) {
    this.prefix = config.bot.prefix || "!";
    const settings = sectionOf(text, config);
    this.user = bare(settings.user);
    this.room = settings.room ? bare(settings.room) : undefined;
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
  }

  async start(onMessage: MessageHandler): Promise<void> {
    this.state = { state: "connected", since: Date.now() };
    void this.readLoop(onMessage);
  }

  private async readLoop(onMessage: MessageHandler): Promise<void> {
    try {
      this.prompt();
      for await (const line of this.io.lines) {
        this.prompted = false;
        if (this.state.state === "stopped") break;
        const text = line.trim();
        if (text && !this.control(text)) {
          const msg = this.message(text);
          // One failing line must not end the session (nor leave `ended` pending forever).
          try {
            await onMessage(msg);
          } catch (err) {
            log.error("the message handler failed", { error: String(err) });
          }
        }
        this.prompt();
      }
    } catch (err) {
      log.error("cannot read the terminal input", { error: String(err) });
    } finally {
      this.markEnded();
    }
  }

  /** Handles the terminal's own `/commands` (see HELP); returns false for text meant for the bot. */
  private control(text: string): boolean {
    if (!text.startsWith("/") || text.startsWith(this.prefix)) return false;
    const [cmd, arg] = text.split(/\s+/, 2);
    if (cmd === "/as" && arg) this.user = bare(arg);
    else if (cmd === "/in" && arg) this.room = bare(arg);
    else if (cmd === "/dm") this.room = undefined;
    else {
      this.show(cmd === "/help" || cmd === "/as" || cmd === "/in" ? HELP : `(${cmd} is not a terminal command; /help lists them. Commands for the bot start with ${this.prefix})\n`);
      return true;
    }
    if (this.io.interactive) this.show(`(you are @${this.user} ${this.room ? `in #${this.room}` : "in a direct message"})\n`);
    return true;
  }

  private message(text: string): Message {
    const nick = this.user;
    return {
      text,
      from: { id: nick, nick, aclId: `@${nick}`, st2User: nick },
      room: this.room ? { id: this.room, name: `#${this.room}` } : undefined,
      direct: !this.room,
    };
  }

  /** Shows the prompt unless it is already the last thing on the screen. */
  private prompt(): void {
    if (this.io.setPrompt) return this.io.setPrompt(`@${this.user}${this.room ? ` #${this.room}` : ""}> `);
    if (!this.io.interactive || this.prompted) return;
    this.show(`@${this.user}${this.room ? ` #${this.room}` : ""}> `);
    this.prompted = true;
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

  /**
   * Resolves once the output accepted the message's bytes (see `TextIO.write`); a closed output
   * is a retryable SendError, so the message stays in the outbox for the next run. Returns
   * `WRITTEN` itself when the output took the bytes at once.
   */
  send(target: Target, msg: Outgoing): Promise<void> {
    return this.sendMany(target, [msg]);
  }

  /**
   * Writes every message in one `write`, in order, and resolves once the output accepted all of
   * those bytes; a closed output rejects the whole batch (retryable): none of it is confirmed.
   * Returns `WRITTEN` itself when the output took every byte at once (nothing to wait for).
   */
  sendMany(target: Target, msgs: Outgoing[]): Promise<void> {
    let waits: Promise<void>[];
    try {
      waits = this.writeAll(target, msgs);
    } catch (err) {
      return Promise.reject(err);
    }
    if (waits.length === 0) return WRITTEN;
    return (waits.length === 1 ? waits[0]! : Promise.all(waits)).then(
      () => undefined,
      (err) => {
        throw new SendError(`the terminal output is closed: ${String(err)}`, true);
      },
    );
  }

  /** Writes what no earlier write holds unconfirmed; returns what is still to be confirmed (none: all taken). */
  private writeAll(target: Target, msgs: Outgoing[]): Promise<void>[] {
    const where = target.kind === "room" ? `[#${target.id}${target.thread ? ` thread ${target.thread}` : ""}]` : `[direct @${target.id}]`;
    let fresh = "";
    const keys: string[] = [];
    const waits: Promise<void>[] = [];
    for (const msg of msgs) {
      const chunk = this.chunk(where, msg.text);
      // A retry (same outbox id, else the same text) while the first write is still unconfirmed.
      const key = msg.id ?? chunk;
      const earlier = this.unconfirmed.size > 0 ? this.unconfirmed.get(key) : undefined;
      if (earlier) {
        if (!waits.includes(earlier)) waits.push(earlier);
        continue;
      }
      fresh += chunk;
      keys.push(key);
    }
    if (fresh) {
      // After a prompt, start on a fresh line; then show the prompt again below the messages.
      if (this.prompted) this.show("\n");
      this.prompted = false;
      const written = this.io.write(fresh);
      // Taken at once (the usual piped case): nothing is unconfirmed, no retry can overlap it.
      if (written !== WRITTEN) {
        const confirming = written.finally(() => {
          for (const key of keys) this.unconfirmed.delete(key);
        });
        for (const key of keys) this.unconfirmed.set(key, confirming);
        waits.push(confirming);
      }
      this.prompt();
    }
    return waits;
  }

  /** One message as output lines, each starting with where it went. */
  private chunk(where: string, text: string): string {
    // The common one-line message, piped, without the work below (identical result).
    if (!this.io.styled && !text.includes("\n")) return `${where} ${text}`.trimEnd() + "\n";
    // Blank lines around a message (StackStorm's result template has them) carry nothing here.
    const plain = text.replace(/^(\s*\n)+|(\n\s*)+$/g, "");
    const body = this.io.styled ? renderMarkdown(plain) : plain;
    return body.split("\n").map((line) => `${where} ${line}`.trimEnd()).join("\n") + "\n";
  }

  /** Prompts and notices need no confirmation; a closed output is reported by the next send. */
  private show(text: string): void {
    this.io.write(text).catch(() => undefined);
  }

  async resolve(kind: "user" | "channel", value: string): Promise<Target> {
    const name = bare(value.trim());
    // A `channel` may name a person (`@alice`): the source_channel of a direct message.
    return kind === "user" || value.trim().startsWith("@") ? { kind: "user", id: name } : { kind: "room", id: name };
  }

  replyTarget(msg: Message): Target {
    return msg.room ? { kind: "room", id: msg.room.id, thread: msg.thread } : { kind: "user", id: msg.from.id };
  }

  sourceChannel(msg: Message): string {
    return msg.room ? msg.room.name : `@${msg.from.nick}`;
  }
}

/** The registry's factory; `io` defaults to the process's terminal. */
export function createTextBackend(config: Config, io?: TextIO): TextBackend {
  return new TextBackend(config, io);
}
