/**
 * One send attempt of the outbox: a stored entry made sendable once (payload parsed, a sealed
 * text opened, split to the backend's size), its target resolved (cached), and its next part
 * handed to the backend with a timeout, or many parts of the messages at the head of a target's
 * queue at once (`ChatBackend.sendMany`). Whether the attempt counts as a success, a retry or a
 * dead letter is decided by the caller (see retry.ts).
 */
import type { ActionRequest, ChatAction, ChatBackend, Outgoing, Target } from "../chat/types.ts";
import { SendError } from "../lib/errors.ts";
import { DONE, withTimeout } from "../lib/timeout.ts";
import type { Sealer } from "../store/seal.ts";
import { type Announcement, targetOf, threadOf } from "./announcement.ts";
import { type Entry, parsePayload } from "./outbox-table.ts";
import { openBody } from "./sealed.ts";
import { splitMessage } from "./split.ts";

const RESOLVE_CACHE_MS = 5 * 60_000;

/** Part `index` of a prepared entry, as one item of a `sendParts` batch. */
export interface Part {
  entry: Entry;
  index: number;
}

/** What a sender sends with. */
export interface SenderOptions {
  backend: ChatBackend;
  /** Opens sealed texts (the one the intake sealed them with). */
  sealer: Sealer;
  now: () => number;
  /** A send or resolve not confirmed within this is a retryable failure (SendError). */
  sendTimeoutMs: number;
  /** Issues a message's action tokens at send time; absent: actions are dropped (text only). */
  issueActions?: (requests: ActionRequest[]) => ChatAction[];
}

/** Sends entries part by part; keeps a cache of resolved targets (five minutes). */
export class Sender {
  private readonly resolved = new Map<string, { target: Target; until: number }>();

  constructor(private readonly opts: SenderOptions) {}

  /**
   * Parses and splits `entry` once (sets `announcement` and `parts`); returns why it can never
   * be sent (unreadable, empty), or undefined when it is ready.
   */
  prepare(entry: Entry): string | undefined {
    // Asked again for an entry found empty before (a batch looked at it ahead of its turn).
    if (entry.parts) return entry.parts.length === 0 ? "the message is empty" : undefined;
    const a = entry.announcement ?? openBody(this.opts.sealer, parsePayload(entry.payload), entry.key, entry.id);
    if (!a) return "the stored announcement is unreadable";
    entry.announcement = a;
    entry.parts = splitMessage(a.message, this.opts.backend.maxMessageLength);
    if (entry.parts.length === 0) return "the message is empty";
    return undefined;
  }

  /**
   * Sends part `entry.partsSent` of a prepared entry; resolves once the backend confirmed it.
   * Rejects with what the backend threw (SendError), or a retryable SendError on a timeout.
   * Returns `DONE` itself when the target was cached and the backend confirmed before it
   * returned (its `send` returned `DONE`): no timer, nothing to wait for.
   */
  sendNextPart(entry: Entry): Promise<void> {
    return this.toTarget(entry, undefined);
  }

  /**
   * Sends `parts` (of prepared entries of one target key, in queue order, all in `sameThread`)
   * with one `backend.sendMany`; resolves once the backend confirmed every one. Rejects as
   * `sendNextPart` does; then none of them counts as sent. `DONE` as `sendNextPart`.
   */
  sendParts(parts: Part[]): Promise<void> {
    return this.toTarget(parts[0]!.entry, parts);
  }

  /**
   * Sends `parts` (or, without them, `entry`'s next part) to `entry`'s target: in this call when
   * it is cached — the usual case, without a closure — else once resolved.
   */
  private toTarget(entry: Entry, parts: Part[] | undefined): Promise<void> {
    const target = this.cachedTarget(entry.key, entry.announcement!);
    if (target) return this.sendTo(target, entry, parts);
    return this.resolveTarget(entry.key, entry.announcement!).then((resolved) => this.sendTo(resolved, entry, parts));
  }

  /**
   * `backend.sendMany` of `parts`, or `backend.send` of `entry`'s next part, under the send
   * timeout; a backend that throws instead of rejecting is a rejection too. `DONE` (confirmed
   * before it returned) comes back as it is, without a timer.
   */
  private sendTo(target: Target, entry: Entry, parts: Part[] | undefined): Promise<void> {
    let sending: Promise<void>;
    try {
      sending = parts
        ? this.opts.backend.sendMany!(target, parts.map((p) => this.outgoing(p.entry, p.index)))
        : this.opts.backend.send(target, this.outgoing(entry, entry.partsSent));
    } catch (err) {
      return Promise.reject(err);
    }
    return sending === DONE ? DONE : this.withTimeout(sending, "send");
  }

  /** True when prepared entries `a` and `b` of one target key go to the same place (thread). */
  sameThread(a: Entry, b: Entry): boolean {
    return threadOf(a.announcement!) === threadOf(b.announcement!);
  }

  /** Drops the cached target of `key` (it was rejected: resolve it afresh next time). */
  forget(key: string): void {
    this.resolved.delete(key);
  }

  /** Part `index` of a prepared entry as the backend gets it. */
  private outgoing(entry: Entry, index: number): Outgoing {
    const a = entry.announcement!;
    const parts = entry.parts!;
    // The same id on every retry of this part (even after a restart or a replay), so a
    // service with idempotent sends posts it once; row id + creation time stay unique
    // should the database ever be recreated and ids start over.
    const id = `${entry.id}.${entry.createdAt}.${index}`;
    const msg: Outgoing = index === 0 && a.extra ? { text: parts[index]!, extra: a.extra, id } : { text: parts[index]!, id };
    // Controls go under the last part, after everything they answer.
    if (a.actions?.length && this.opts.issueActions && index === parts.length - 1) msg.actions = this.opts.issueActions(a.actions);
    return msg;
  }

  /** The target of `key` (with `a`'s thread) when resolved within RESOLVE_CACHE_MS, else undefined. */
  private cachedTarget(key: string, a: Announcement): Target | undefined {
    const cached = this.resolved.get(key);
    return cached && cached.until >= this.opts.now() ? withThread(cached.target, a) : undefined;
  }

  private async resolveTarget(key: string, a: Announcement): Promise<Target> {
    const now = this.opts.now();
    const t = targetOf(a)!;
    const target = await this.withTimeout(this.opts.backend.resolve(t.kind, t.value), "resolve");
    if (this.resolved.size > 10_000) this.resolved.clear();
    this.resolved.set(key, { target, until: now + RESOLVE_CACHE_MS });
    return withThread(target, a);
  }

  private withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
    const ms = this.opts.sendTimeoutMs;
    return withTimeout(work, ms, () => new SendError(`${what} timed out after ${ms} ms`, true));
  }
}

/** A resolved target with the announcement's thread, for a room. */
function withThread(target: Target, a: Announcement): Target {
  if (target.kind !== "room") return target;
  const thread = threadOf(a);
  return thread ? { ...target, thread } : target;
}
