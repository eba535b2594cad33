/**
 * The channels of `[irc] channels`: which the bot is in right now, which the server refused
 * and why, joined (with their keys) after every registration and again after a kick.
 */
import type { IrcChannel } from "./settings.ts";

/** Numerics that refuse a JOIN, with what a person should fix (doctor's probe reports them too). */
export const JOIN_REFUSALS: Record<string, string> = {
  "403": "no such channel",
  "405": "joined too many channels",
  "471": "the channel is full (+l)",
  "473": "the channel is invite only (+i)",
  "474": "the bot is banned (+b)",
  "475": "wrong channel key (+k): check irc.channels",
  "476": "bad channel mask",
  "477": "the channel needs a registered nick",
  "479": "illegal channel name",
};

/** Channel names compare case-insensitively (RFC 1459 casemapping is close enough for lookups). */
const fold = (name: string) => name.toLowerCase();

/** What `settled` found once the JOIN answers are in (or the wait ran out). */
export interface JoinOutcome {
  /** The channels the bot is not in, each with the server's reason, for `status()`. */
  missing: string[];
}

/** Join state of the configured channels on the current connection. */
export class Channels {
  private readonly wanted = new Map<string, IrcChannel>();
  private readonly joined = new Map<string, string>();
  private readonly refused = new Map<string, string>();
  private waiters: Array<(gone?: boolean) => void> = [];

  constructor(channels: IrcChannel[]) {
    for (const c of channels) this.wanted.set(fold(c.name), c);
  }

  /** The JOIN lines for every configured channel not joined yet (keys are sent, never logged). */
  joinLines(): string[] {
    return [...this.wanted.values()].filter((c) => !this.joined.has(fold(c.name))).map((c) => (c.key ? `JOIN ${c.name} ${c.key}` : `JOIN ${c.name}`));
  }

  /** Resolves once every configured channel is joined or refused, or after `timeoutMs`. */
  async settled(timeoutMs: number): Promise<JoinOutcome> {
    const done = () => [...this.wanted.keys()].every((k) => this.joined.has(k) || this.refused.has(k));
    if (!done()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(finish, timeoutMs);
        function finish() {
          clearTimeout(timer);
          resolve();
        }
        this.waiters.push((gone) => (gone || done()) && finish());
      });
      this.waiters = [];
    }
    return { missing: this.missing() };
  }

  /** Our own JOIN came back. */
  onJoined(name: string): void {
    this.joined.set(fold(name), name);
    this.refused.delete(fold(name));
    this.notify();
  }

  /** We left (PART, KICK). */
  onLeft(name: string, why?: string): void {
    this.joined.delete(fold(name));
    if (why) this.refused.set(fold(name), why);
    this.notify();
  }

  /** A numeric that may refuse a JOIN; true when it named a configured channel. */
  onNumeric(code: string, params: string[]): boolean {
    const why = JOIN_REFUSALS[code];
    const name = params[1];
    if (!why || !name || !this.wanted.has(fold(name))) return false;
    this.refused.set(fold(name), why);
    this.notify();
    return true;
  }

  /** The connection is gone: nothing is joined any more, and no answer will come. */
  reset(): void {
    this.joined.clear();
    this.refused.clear();
    for (const w of this.waiters) w(true);
  }

  /** True when the bot is in `name` right now. */
  isJoined(name: string): boolean {
    return this.joined.has(fold(name));
  }

  /** True when `name` is a configured channel. */
  isWanted(name: string): boolean {
    return this.wanted.has(fold(name));
  }

  /** The channel as configured or joined (its spelling), for a name in any case. */
  canonical(name: string): string | undefined {
    return this.joined.get(fold(name)) ?? this.wanted.get(fold(name))?.name;
  }

  /** "not in #a (wrong channel key ...), #b (no answer)" parts for `status()`. */
  missing(): string[] {
    return [...this.wanted.values()].filter((c) => !this.joined.has(fold(c.name))).map((c) => `${c.name} (${this.refused.get(fold(c.name)) ?? "no answer to JOIN"})`);
  }

  private notify(): void {
    for (const w of this.waiters) w();
  }
}
