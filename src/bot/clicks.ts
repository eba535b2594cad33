/**
 * Clicks on st2bot's buttons, turned into the command they stand for. A click carries only a
 * token; the command it runs was fixed when the token was issued (store/actions.ts), so a click
 * can do nothing a person could not type. The command then goes through the router like typed
 * text, as the person who clicked: one path, one ACL, one identity check for both.
 *
 * Order of checks: the token must be known and unexpired; its group must not be answered yet
 * (else the clicker learns who answered what); clicks of one group run one at a time, so a
 * second click waits for the first and then sees its answer instead of racing it to StackStorm.
 */
import type { ActionClick, Message, MessageHandler } from "../chat/types.ts";
import { logger } from "../lib/log.ts";

const log = logger("bot.clicks");

/** The token table bot/ reads (store/actions.ts implements it; app.ts wires it in). */
export interface ClickTokens {
  lookup(token: string): { group: string; command: string; answered?: string } | undefined;
  /** Spends every token of `group`, recording `note` (who answered what and when). */
  answered(group: string, note: string): void;
}

/** What the click layer needs besides the router's handler. */
export interface ClickOptions {
  tokens: ClickTokens;
  /** Replies in the clicked message's conversation (where `notify` does not exist). */
  reply(msg: Message, text: string): Promise<void>;
}

/** Said to a click whose token is unknown or expired. */
export const EXPIRED_CLICK = "That button has expired or is no longer valid. Answer with the command shown in the message instead.";

/** `Already answered: Answered by alice: approved=yes (…).`, said to a click on an answered message. */
export const alreadyAnswered = (note: string) => `This was already answered. ${note}`;

/**
 * Wraps the router's handler: messages without `action` pass through unchanged; a click is
 * checked as the file comment says and, when valid, handed to the router as the command its
 * token stands for, with an `update` that records the answer before changing the message.
 */
export function withClicks(route: MessageHandler, opts: ClickOptions): MessageHandler {
  const running = new Map<string, Promise<void>>();
  return async (msg) => {
    const click = msg.action;
    if (!click) return route(msg);
    const first = opts.tokens.lookup(click.token);
    if (!first) return tell(opts, msg, click, EXPIRED_CLICK);
    const group = first.group;
    const before = running.get(group) ?? Promise.resolve();
    const mine = before.then(() => handle(route, opts, msg, click));
    const settled = mine.catch(() => undefined);
    running.set(group, settled);
    try {
      await mine;
    } finally {
      if (running.get(group) === settled) running.delete(group);
    }
  };
}

async function handle(route: MessageHandler, opts: ClickOptions, msg: Message, click: ActionClick): Promise<void> {
  // Looked up again: a click that waited behind another may find it answered now.
  const rec = opts.tokens.lookup(click.token);
  if (!rec) return tell(opts, msg, click, EXPIRED_CLICK);
  if (rec.answered !== undefined) return tell(opts, msg, click, alreadyAnswered(rec.answered));
  const update = async (note: string) => {
    // Recorded first: the database, not the chat message, is what later clicks are told.
    opts.tokens.answered(rec.group, note);
    await click.update(note).catch((err: unknown) => log.warn("could not update the clicked message", { error: String(err) }));
  };
  await route({ ...msg, text: rec.command, mentioned: true, action: { ...click, update } });
}

async function tell(opts: ClickOptions, msg: Message, click: ActionClick, text: string): Promise<void> {
  try {
    if (click.notify) await click.notify(text);
    else await opts.reply(msg, text);
  } catch (err) {
    log.warn("could not answer a click", { error: String(err) });
  }
}
