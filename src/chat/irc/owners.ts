/**
 * Who a nick belongs to, so a private reply never reaches a stranger. On IRC a nick is free the
 * moment its holder quits, and StackStorm addresses private results by nick only: without this,
 * Alice's result (a deploy log, a secret-bearing output) would go to whoever took "alice" after
 * she left. The bot remembers the mask of each person who spoke; when it sees that person quit,
 * later sends to their nick are refused, and when it sees them change nick, sends follow them.
 * It sees QUIT and NICK only for people sharing a channel with it, so that is where this holds.
 */
import { SendError } from "../../lib/errors.ts";

/** Nicks compare case-insensitively. */
const fold = (nick: string) => nick.toLowerCase();
/** `user@host` of a `nick!user@host`: what stays the same across a nick change. */
const userHost = (mask: string) => mask.slice(mask.indexOf("!") + 1);

interface Owner {
  /** `user@host`. */
  mask: string;
  /** The nick they hold now (after NICK changes); undefined once they quit. */
  now: string | undefined;
}

/** How many speakers to remember; the oldest are forgotten first. */
const LIMIT = 10_000;

/** Nick → the person (user@host) who spoke from it, following NICK and noticing QUIT. */
export class Owners {
  private readonly byNick = new Map<string, Owner>();

  /** `nick` (with `mask`) spoke: they own the nick from now on. */
  spoke(nick: string, mask: string): void {
    const key = fold(nick);
    this.byNick.delete(key);
    this.byNick.set(key, { mask: userHost(mask), now: nick });
    if (this.byNick.size > LIMIT) this.byNick.delete(this.byNick.keys().next().value!);
  }

  /** Someone changed nick: sends to the owner's nicks follow them. */
  renamed(oldNick: string, newNick: string, mask: string): void {
    for (const owner of this.byNick.values()) {
      if (owner.mask === userHost(mask) && owner.now !== undefined && fold(owner.now) === fold(oldNick)) owner.now = newNick;
    }
  }

  /** Someone quit: their nicks are no longer theirs. */
  quit(nick: string, mask: string): void {
    for (const owner of this.byNick.values()) {
      if (owner.mask === userHost(mask) && owner.now !== undefined && fold(owner.now) === fold(nick)) owner.now = undefined;
    }
  }

  /**
   * The nick a private message to `nick` goes to: the same nick, or the one its owner changed to.
   * Throws a non-retryable SendError when the owner was seen leaving.
   */
  route(nick: string): string {
    const owner = this.byNick.get(fold(nick));
    if (!owner) return nick;
    if (owner.now === undefined) {
      throw new SendError(`${nick} left IRC after talking to the bot; not sending their message to whoever holds the nick now`, false);
    }
    return owner.now;
  }
}
