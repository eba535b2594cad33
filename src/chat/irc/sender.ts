/**
 * Paced, confirmed PRIVMSGs. IRC has no acknowledgement of a PRIVMSG, and ngircd offers no
 * IRCv3 `echo-message`, so confirmation is a PING round trip: a server handles one client's
 * commands in order, so its PONG to a PING written after the lines proves it processed them,
 * and any refusal (401 no such nick, 404 cannot send to channel, ...) arrives before that PONG.
 *
 * The same round trip paces the writes (self-clocking, like TCP's window): at most WINDOW_LINES
 * lines and WINDOW_BYTES bytes (PING included) are ever unprocessed in the server's queue. That
 * stays below every flood limit that disconnects a client: ngircd handles 3 commands per loop
 * and closes at 2048 queued bytes, ircu kills at 1024, solanum at 20 queued lines. A server
 * that slows a flooder down (fake lag) slows its PONGs, and the bot with them. `linesPerSecond`
 * caps the rate further for channels that kick fast talkers.
 */
import { SendError } from "../../lib/errors.ts";
import { byteLength } from "./lines.ts";

/** At most this many PRIVMSG lines unconfirmed (plus the PING): ngircd's 3 commands per loop. */
const WINDOW_LINES = 2;
/**
 * The longest a new message may wait behind queued lines before `send` turns it away with
 * `retryAfterMs` (the outbox's rate-limit path): well inside the outbox's 30 s send timeout, so
 * a send is never timed out, retried, and then delivered twice.
 */
const MAX_QUEUE_WAIT_MS = 10_000;

/** The most an echo may shrink the line budget by (the budget stays above 250 bytes). */
const MAX_CUT = 150;
/** At most this many bytes unconfirmed, PING included: below ircu's 1024-byte flood kill. */
const WINDOW_BYTES = 1000;

/** What the sender needs from the connection. */
export interface SenderIo {
  /**
   * Writes raw lines (without CR-LF) in ONE socket write: separate small writes would wait on
   * Nagle's algorithm and the server's delayed ACK (40 ms each on Linux).
   */
  write(lines: string[]): void;
  /** The connection seems dead (no PONG in time): close it so the link reconnects. */
  unresponsive(): void;
  /** With `echo-message`: the server relayed a line shorter than written (`lost` bytes cut off). */
  truncated?(target: string, lost: number): void;
}

/** Pacing and liveness settings. */
export interface SenderOptions {
  /** 0: paced by the server's round trips only. */
  linesPerSecond?: number;
  /** How long a PONG may take before the connection is declared dead. */
  pongTimeoutMs?: number;
}

interface Batch {
  target: string;
  lines: string[];
  /** Index of the next line to write. */
  next: number;
  error?: SendError;
  resolve(): void;
  reject(err: SendError): void;
}

interface Window {
  token: string;
  batches: Batch[];
  timer: ReturnType<typeof setTimeout>;
  /** With `echo-message`: the lines written, in order, until the server echoes them. */
  unechoed: Array<{ target: string; text: string }>;
  writtenAt: number;
  lines: number;
}

/** Numerics that mean "this PRIVMSG was refused", and whether trying again later may help. */
const REFUSALS: Record<string, { retryable: boolean; what: string }> = {
  "401": { retryable: false, what: "no such nick or channel" },
  "403": { retryable: false, what: "no such channel" },
  "404": { retryable: true, what: "cannot send to channel" },
  "407": { retryable: false, what: "too many targets" },
  "412": { retryable: false, what: "no text to send" },
  "437": { retryable: true, what: "target temporarily unavailable" },
  "486": { retryable: false, what: "the user accepts messages only from registered users" },
};

/** One connection's outgoing PRIVMSG queue; `reset` when the connection goes. */
export class Sender {
  private readonly queue: Batch[] = [];
  private inFlight: Window | undefined;
  private online = false;
  private seq = 0;
  private nextLineAt = 0;
  private pacing: ReturnType<typeof setTimeout> | undefined;
  private readonly interval: number;
  private readonly pongTimeoutMs: number;
  private echo = false;
  private cut = 0;
  /** Milliseconds per confirmed line, smoothed; starts at ngircd's pace (about 7 a second). */
  private perLineMs = 150;

  constructor(private readonly io: SenderIo, opts: SenderOptions = {}) {
    this.interval = opts.linesPerSecond ? 1000 / opts.linesPerSecond : 0;
    this.pongTimeoutMs = opts.pongTimeoutMs ?? 30_000;
  }

  /** Queues `lines` to `target`; resolves once the server processed all of them without refusal. */
  send(target: string, lines: string[]): Promise<void> {
    if (!this.online) return Promise.reject(new SendError("the IRC connection is down", true));
    if (lines.length === 0) return Promise.resolve();
    const ahead = this.queue.reduce((n, b) => n + b.lines.length - b.next, 0);
    const wait = Math.round(ahead * this.perLineMs);
    // The server takes lines slower than they come: a rate limit, waited out by the outbox.
    if (ahead > 0 && wait > MAX_QUEUE_WAIT_MS) {
      return Promise.reject(new SendError(`the IRC server takes lines slower than they come (${ahead} queued)`, true, wait - MAX_QUEUE_WAIT_MS / 2));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ target, lines, next: 0, resolve, reject });
      this.pump();
    });
  }

  /**
   * The connection is registered: writing may start. `echo`: the server offered IRCv3
   * `echo-message`, so what it relayed can be compared with what was written.
   */
  start(echo = false): void {
    this.online = true;
    this.echo = echo;
    this.pump();
  }

  /**
   * Bytes to take off the line budget: how much more than estimated the server has cut from a
   * line it echoed (0 until an echo shows a cut, or without `echo-message`).
   */
  get budgetCut(): number {
    return this.cut;
  }

  /**
   * Our own PRIVMSG came back (`echo-message`). Echoes come in the order lines were written; a
   * refused line has none. An echo that is a strict prefix of the line means the server cut it:
   * the budget shrinks by what was lost, so the following lines fit. (A `+c` channel strips
   * colours: that echo differs without being a prefix, and is not a cut.)
   */
  onEcho(target: string, text: string): void {
    const pending = this.inFlight?.unechoed;
    if (!pending || text === "") return;
    const i = pending.findIndex((l) => l.target.toLowerCase() === target.toLowerCase());
    if (i < 0) return;
    const sent = pending.splice(0, i + 1).at(-1)!;
    if (text === sent.text || !sent.text.startsWith(text)) return;
    const lost = byteLength(sent.text) - byteLength(text);
    // Bounded: an odd server must not shrink lines to nothing.
    this.cut = Math.min(Math.max(this.cut, lost), MAX_CUT);
    this.io.truncated?.(sent.target, lost);
  }

  /** The connection is gone: everything unconfirmed fails, retryable (the outbox sends it again). */
  reset(reason: string): void {
    this.online = false;
    clearTimeout(this.pacing);
    this.pacing = undefined;
    const err = new SendError(`the IRC connection was lost before the server confirmed the message (${reason})`, true);
    const pending = [...(this.inFlight?.batches ?? []), ...this.queue];
    if (this.inFlight) clearTimeout(this.inFlight.timer);
    this.inFlight = undefined;
    this.queue.length = 0;
    for (const b of new Set(pending)) b.reject(err);
  }

  /** A PONG arrived; `token` is its last parameter. */
  onPong(token: string): void {
    const w = this.inFlight;
    if (!w || w.token !== token) return;
    clearTimeout(w.timer);
    this.perLineMs = 0.8 * this.perLineMs + 0.2 * ((Date.now() - w.writtenAt) / Math.max(1, w.lines));
    this.inFlight = undefined;
    for (const b of w.batches) {
      if (b.error) {
        this.drop(b);
        b.reject(b.error);
      } else if (b.next >= b.lines.length) {
        this.drop(b);
        b.resolve();
      }
    }
    this.pump();
  }

  /** A numeric arrived; a refusal naming a target in flight fails that message. */
  onNumeric(code: string, params: string[]): void {
    const refusal = REFUSALS[code];
    const w = this.inFlight;
    if (!refusal || !w) return;
    const named = (params[1] ?? "").toLowerCase();
    const reason = params.at(-1) ?? refusal.what;
    for (const b of w.batches) {
      if (b.target.toLowerCase() !== named || b.error) continue;
      b.error = new SendError(`the IRC server refused the message to ${b.target}: ${refusal.what} (${reason})`, refusal.retryable);
    }
  }

  private drop(b: Batch): void {
    const i = this.queue.indexOf(b);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /** Writes the next window when nothing is in flight, then a PING that closes it. */
  private pump(): void {
    if (!this.online || this.inFlight || this.pacing) return;
    const now = Date.now();
    if (this.nextLineAt > now) {
      this.pacing = setTimeout(() => {
        this.pacing = undefined;
        this.pump();
      }, this.nextLineAt - now);
      return;
    }
    const token = `st2bot-${this.seq + 1}`;
    const ping = `PING :${token}`;
    let bytes = byteLength(ping) + 2;
    let lines = 0;
    const batches = new Set<Batch>();
    const out: string[] = [];
    const unechoed: Window["unechoed"] = [];
    for (const b of this.queue) {
      if (b.error) continue;
      while (b.next < b.lines.length) {
        const line = `PRIVMSG ${b.target} :${b.lines[b.next]}`;
        const size = byteLength(line) + 2;
        if (lines > 0 && (lines >= WINDOW_LINES || bytes + size > WINDOW_BYTES)) break;
        // With a rate cap, one line per window, spaced by the interval.
        if (this.interval && lines > 0) break;
        out.push(line);
        if (this.echo) unechoed.push({ target: b.target, text: b.lines[b.next]! });
        bytes += size;
        lines++;
        b.next++;
        batches.add(b);
      }
      if (b.next < b.lines.length) break; // keep order: nothing of a later message before this one is done
    }
    if (lines === 0) return;
    this.seq++;
    if (this.interval) this.nextLineAt = now + this.interval;
    this.io.write([...out, ping]);
    const timer = setTimeout(() => {
      if (this.inFlight?.token !== token) return;
      this.io.unresponsive();
      this.reset(`no PONG within ${this.pongTimeoutMs} ms`);
    }, this.pongTimeoutMs);
    this.inFlight = { token, batches: [...batches], timer, unechoed, writtenAt: now, lines };
  }
}
