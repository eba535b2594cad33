/**
 * A person's IRC client for tests against a real ngircd: a raw socket (so tests see exactly the
 * bytes the server relays), every line kept, and, like a desktop client, reconnect and rejoin
 * after the server restarts.
 */
import type { Socket } from "bun";

/** One line received, parsed. */
export interface IrcLine {
  raw: string;
  /** UTF-8 bytes of the line as received, CR-LF included. */
  bytes: number;
  nick: string;
  mask: string;
  command: string;
  params: string[];
}

/** One raw IRC line (without CR-LF) split into tags-less prefix, command and parameters. */
export function parseLine(raw: string): Omit<IrcLine, "bytes"> {
  let rest = raw;
  let mask = "";
  if (rest.startsWith("@")) rest = rest.slice(rest.indexOf(" ") + 1);
  if (rest.startsWith(":")) {
    mask = rest.slice(1, rest.indexOf(" "));
    rest = rest.slice(rest.indexOf(" ") + 1);
  }
  const params: string[] = [];
  while (rest.length) {
    if (rest.startsWith(":")) {
      params.push(rest.slice(1));
      break;
    }
    const sp = rest.indexOf(" ");
    if (sp < 0) {
      params.push(rest);
      break;
    }
    params.push(rest.slice(0, sp));
    rest = rest.slice(sp + 1).replace(/^ +/, "");
  }
  const command = params.shift() ?? "";
  return { raw, nick: mask.split("!")[0] ?? "", mask, command, params };
}

/** A person connected to the test server; see the file comment. */
export class IrcPerson {
  /** Every line received, in order, across reconnects. */
  readonly received: IrcLine[] = [];
  /** Called with every line as it arrives (benchmarks time arrivals without polling). */
  onArrival: ((line: IrcLine) => void) | undefined;
  /** Channels the person is in right now. */
  readonly joined = new Set<string>();
  private socket: Socket | undefined;
  private buffer = new Uint8Array(0);
  private readonly channels = new Map<string, string | undefined>();
  private closed = false;
  private registered = false;
  private reconnecting = false;

  private constructor(
    private readonly port: number,
    readonly nick: string,
  ) {}

  /** Connects and registers as `nick` on 127.0.0.1:`port`. */
  static async connect(port: number, nick: string): Promise<IrcPerson> {
    const p = new IrcPerson(port, nick);
    await p.open();
    return p;
  }

  private async open(): Promise<void> {
    this.registered = false;
    this.socket = await Bun.connect({
      hostname: "127.0.0.1",
      port: this.port,
      socket: {
        data: (_s, chunk) => this.onData(chunk),
        close: () => this.onClose(),
        error: () => this.onClose(),
      },
    });
    this.write(`NICK ${this.nick}`);
    this.write(`USER ${this.nick} 0 * :${this.nick}`);
    await this.until(() => this.registered, "registration");
    for (const [channel, key] of this.channels) this.write(key ? `JOIN ${channel} ${key}` : `JOIN ${channel}`);
  }

  write(line: string): void {
    this.socket?.write(`${line}\r\n`);
  }

  /** Joins `channel` (kept for rejoins) and waits until the server confirms. */
  async join(channel: string, key?: string): Promise<void> {
    this.channels.set(channel, key);
    this.write(key ? `JOIN ${channel} ${key}` : `JOIN ${channel}`);
    await this.until(() => this.joined.has(channel.toLowerCase()), `joining ${channel}`);
  }

  say(target: string, text: string): void {
    this.write(`PRIVMSG ${target} :${text}`);
  }

  /** PRIVMSGs from `nick` (to `to` when given), in order. */
  messagesFrom(nick: string, to?: string): IrcLine[] {
    return this.received.filter((l) => l.command === "PRIVMSG" && l.nick.toLowerCase() === nick.toLowerCase() && (to === undefined || l.params[0]?.toLowerCase() === to.toLowerCase()));
  }

  /** Quits and stays away (no reconnect). */
  async close(): Promise<void> {
    this.closed = true;
    this.write("QUIT :bye");
    this.socket?.end();
  }

  private onData(chunk: Uint8Array): void {
    const merged = new Uint8Array(this.buffer.length + chunk.length);
    merged.set(this.buffer);
    merged.set(chunk, this.buffer.length);
    let start = 0;
    for (let i = 0; i < merged.length - 1; i++) {
      if (merged[i] !== 13 || merged[i + 1] !== 10) continue;
      const bytes = merged.subarray(start, i);
      this.onLine(new TextDecoder().decode(bytes), bytes.length + 2);
      start = i + 2;
      i++;
    }
    this.buffer = merged.slice(start);
  }

  private onLine(raw: string, bytes: number): void {
    const line = { ...parseLine(raw), bytes };
    this.received.push(line);
    this.onArrival?.(line);
    if (line.command === "PING") this.write(`PONG :${line.params.at(-1) ?? ""}`);
    else if (line.command === "001") this.registered = true;
    else if (line.command === "JOIN" && line.nick === this.nick) this.joined.add((line.params[0] ?? "").toLowerCase());
    else if ((line.command === "PART" && line.nick === this.nick) || (line.command === "KICK" && line.params[1] === this.nick)) {
      this.joined.delete((line.params[0] ?? "").toLowerCase());
    }
  }

  private onClose(): void {
    this.joined.clear();
    if (this.closed || this.reconnecting) return;
    this.reconnecting = true;
    this.socket = undefined;
    // Like a desktop client: try again until the server is back.
    const retry = async () => {
      while (!this.closed) {
        await Bun.sleep(200);
        try {
          await this.open();
          this.reconnecting = false;
          return;
        } catch {
          // still down
        }
      }
    };
    void retry();
  }

  private async until(ok: () => boolean, what: string, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`${this.nick}: timed out waiting for ${what}`);
      await Bun.sleep(10);
    }
  }
}
