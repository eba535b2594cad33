/**
 * The one way a command's failure reaches a person: a CommandError as written, anything else
 * as a generic sentence with an error id that is also in the log (with the stack), never a
 * stack trace or internals in chat. Used by the router and by two-factor confirmed runs.
 */
import { CommandError, describeError } from "../lib/errors.ts";
import type { Logger } from "../lib/log.ts";

/** How a failure ended, for an audit line: refused (with the message's first line) or an error id. */
export type FailureOutcome = { refused: string } | { errorId: string };

/** Where a failure is told and logged. */
export interface FailureReport {
  /** Answers the person who asked (durably: the outbox). */
  reply(text: string): Promise<void>;
  log: Logger;
  /** The log line of an unexpected failure (`command failed`), and what identifies the command. */
  failed: string;
  fields?: Record<string, unknown>;
  /** Told how it ended before the reply is queued. */
  outcome?(o: FailureOutcome): void;
}

/** Runs `fn`; reports its failure as `FailureReport` says. Never rejects. */
export async function reportFailures(fn: () => Promise<void>, report: FailureReport): Promise<void> {
  try {
    await fn();
  } catch (err) {
    await reportFailure(err, report);
  }
}

/**
 * Reports one failure (`err`, thrown by a command) as `FailureReport` says. Never rejects. For
 * callers with their own `try` (the router), so a command that succeeds builds no report.
 */
export async function reportFailure(err: unknown, report: FailureReport): Promise<void> {
  // The reply could not even be queued (the outbox's database failed): nothing left to tell.
  const replyFailed = (e: unknown) => report.log.error("could not queue a reply", { error: describeError(e) });
  if (err instanceof CommandError) {
    report.outcome?.({ refused: err.userMessage.split("\n")[0]! });
    await report.reply(err.userMessage).catch(replyFailed);
    return;
  }
  const id = crypto.randomUUID().slice(0, 8);
  report.outcome?.({ errorId: id });
  report.log.error(report.failed, { id, ...report.fields, error: describeError(err, { stack: true }) });
  await report.reply(`Sorry, something went wrong running that command (error id ${id}).`).catch(replyFailed);
}
