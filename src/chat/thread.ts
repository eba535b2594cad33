/**
 * Where a thread id travels between st2bot and StackStorm: the bot puts it in the execution's
 * `source_context` (`thread`, or hubot-stackstorm's `thread_ts`), StackStorm echoes it back in
 * announcements and inquiry contexts. Read here once, for delivery/ and bot/ alike.
 */
import { isRecord } from "../lib/json.ts";

/** A thread id as a string: a non-empty string, or a number (Slack's `ts` may arrive as one). */
export function asThreadId(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : typeof value === "number" ? String(value) : undefined;
}

/** The thread a `source_context` names (`thread`, else `thread_ts`); undefined when none. */
export function sourceThread(context: unknown): string | undefined {
  if (!isRecord(context)) return undefined;
  return asThreadId(context.thread) ?? asThreadId(context.thread_ts);
}
