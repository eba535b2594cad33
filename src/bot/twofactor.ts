/**
 * hubot-stackstorm's two-factor confirmation (HUBOT_2FA). An alias marked
 * `extra.security.twofactor` is not run at once: st2bot starts the configured 2FA action (a Duo
 * push, say) with a fresh uuid and holds the alias execution here under that uuid. When the
 * 2FA action succeeds it announces `{uuid}` on the `2fa` route, and the held execution runs.
 *
 * Beyond hubot: a uuid nobody holds (unknown, already used, or expired) is logged and ignored
 * instead of crashing the bot, and held executions expire after a bounded time, telling the
 * person who asked.
 */
import * as v from "valibot";
import type { Message } from "../chat/types.ts";
import type { Config } from "../config/schema.ts";
import { describeError } from "../lib/errors.ts";
import { logger } from "../lib/log.ts";
import { reportFailures } from "./report.ts";
import type { St2Event } from "../st2/stream.ts";

const log = logger("bot.twofactor");

/** The stream event a confirmed 2FA action announces (`chatops.post_message` on route `2fa`). */
export const TWOFACTOR_EVENT = "st2.announcement__2fa";
/** What the asker is told while the confirmation is pending (hubot's words). */
export const TWOFACTOR_MESSAGE = "This action requires two-factor auth! Waiting for your confirmation.";
/** How long a confirmation may take before the held execution is dropped. */
export const DEFAULT_TTL_MS = 10 * 60_000;

/**
 * Whether running `alias` must wait for a confirmation: a 2FA action is configured and the alias
 * sets `extra.security.twofactor`. hubot counts any defined value, even `false`; here `false`
 * and `null` mean off, since an alias author writing `twofactor: false` means exactly that.
 */
export function needsTwoFactor(config: Config, alias: { extra?: Record<string, unknown> | null }): boolean {
  if (!config.stackstorm.twofactor_action) return false;
  const security = alias.extra?.security;
  if (typeof security !== "object" || security === null) return false;
  const flag = (security as Record<string, unknown>).twofactor;
  return flag !== undefined && flag !== null && flag !== false;
}

/** One held alias execution: what to run once confirmed, and how to tell the asker otherwise. */
export interface PendingConfirmation {
  /** For the log: the alias ref and the chat user who asked. */
  alias: string;
  user: string;
  /** Runs the held alias execution exactly as the normal path would (source_context, ack). */
  run(): Promise<void>;
  /** Tells the asker (where they asked) something about their request. */
  reply(text: string): Promise<void>;
  /** The chat message that asked: what a shared store keeps, so another instance can run it. */
  message?: Message;
}

/** What a shared store keeps of a held execution: enough for any instance to run it again. */
export interface HeldRecord {
  alias: string;
  user: string;
  /** The asking message without the backend's raw event (sent through the router again). */
  message: Message;
  /** When the confirmation's time is up (ms since the epoch); the store keeps it a while longer, so its holder can still tell the asker. */
  expiresAt?: number;
}

/**
 * Where held executions are shared (cluster mode: Redis, keyed by a hash of the uuid, with a
 * TTL). `take` hands a record to exactly one caller across every instance; it rejects when the
 * store cannot be reached (the confirmation is then tried again, never dropped silently).
 */
export interface ConfirmationStore {
  put(uuid: string, record: HeldRecord, ttlMs: number): Promise<void>;
  take(uuid: string): Promise<HeldRecord | undefined>;
  drop(uuid: string): Promise<void>;
}

/** How a TwoFactor store is set up; tests pass a clock. */
export interface TwoFactorOptions {
  /** Whether a 2FA action is configured; when false no event is taken. Default true. */
  enabled?: boolean;
  /** How long a confirmation may take. Default 10 minutes. */
  ttlMs?: number;
  /** The clock (ms since the epoch). Default `Date.now`. */
  now?: () => number;
  /** How often held executions are checked for expiry while any are held. Default a minute. */
  sweepEveryMs?: number;
  /** Shares held executions between instances (cluster mode); absent, they live in this process only. */
  store?: ConfirmationStore;
  /**
   * Where a parsed confirmation goes instead of being taken here (cluster mode: the shared
   * outbox, so the leader takes it, also when it arrives while no instance leads).
   */
  forward?: (uuid: string, event: St2Event) => void;
}

const AnnouncementSchema = v.looseObject({ payload: v.looseObject({ uuid: v.pipe(v.string(), v.nonEmpty()) }) });

interface Held extends PendingConfirmation {
  expiresAt: number;
}

/** The held alias executions by uuid (see the file comment). */
export class TwoFactor {
  private readonly held = new Map<string, Held>();
  private readonly enabled: boolean;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly sweepEveryMs: number;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly store?: ConfirmationStore;
  private readonly forward?: (uuid: string, event: St2Event) => void;
  private readonly stored = new Map<string, Promise<void>>();
  /** Messages sent through the router again after their confirmation: they run without asking again. */
  private readonly confirmed = new WeakSet<Message>();
  private resumer?: (message: Message) => Promise<void>;

  constructor(opts: TwoFactorOptions = {}) {
    this.enabled = opts.enabled ?? true;
    this.ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
    this.now = opts.now ?? Date.now;
    this.sweepEveryMs = opts.sweepEveryMs ?? 60_000;
    this.store = opts.store;
    this.forward = opts.forward;
  }

  /**
   * How a record held by another instance (or by this one before a restart) is run: its message
   * goes through the router again (ACL and matching as now), marked confirmed. Set by the bot.
   */
  resumeWith(resume: (message: Message) => Promise<void>): void {
    this.resumer = resume;
  }

  /** Whether `message` is a confirmed request sent through again: run it, do not hold it. */
  isConfirmed(message: Message): boolean {
    return this.confirmed.has(message);
  }

  /** Resolves once the execution held under `uuid` is in the shared store (at once without one); rejects when it could not be stored. */
  async persisted(uuid: string): Promise<void> {
    await this.stored.get(uuid);
    this.stored.delete(uuid);
  }

  /** How many confirmations are awaited. */
  get size(): number {
    return this.held.size;
  }

  /** The store `[stackstorm]` asks for: enabled when `twofactor_action` is set. */
  static fromConfig(config: Config, opts: Omit<TwoFactorOptions, "enabled"> = {}): TwoFactor {
    return new TwoFactor({ ...opts, enabled: Boolean(config.stackstorm.twofactor_action) });
  }

  /** The stream events to ask for: the confirmation event, when enabled. */
  get events(): string[] {
    return this.enabled ? [TWOFACTOR_EVENT] : [];
  }

  /** Holds `pending` under a new uuid (returned) until it is confirmed, released or expires. */
  hold(pending: PendingConfirmation): string {
    const uuid = crypto.randomUUID();
    this.held.set(uuid, { ...pending, expiresAt: this.now() + this.ttlMs });
    if (this.store && pending.message) {
      const { raw: _raw, action: _action, ...message } = pending.message;
      const expiresAt = this.now() + this.ttlMs;
      // Kept past its time by a sweep and a minute: the holder's sweep must still find it to tell the asker.
      const put = this.store.put(uuid, { alias: pending.alias, user: pending.user, message, expiresAt }, this.ttlMs + this.sweepEveryMs + 60_000);
      put.catch(() => undefined); // the caller awaits `persisted`
      this.stored.set(uuid, put);
    }
    this.startSweeping();
    log.debug("holding an alias execution for two-factor confirmation", { uuid, alias: pending.alias, user: pending.user });
    return uuid;
  }

  /** Forgets a held execution without running it (its 2FA action could not be started). */
  release(uuid: string): void {
    this.held.delete(uuid);
    this.stored.delete(uuid);
    this.store?.drop(uuid).catch(() => undefined);
    if (this.held.size === 0) this.stop();
  }

  /**
   * Takes a stream event. Returns false for events that are not confirmations; for a
   * confirmation it starts the held execution (in the background) and returns true. A
   * malformed, unknown, used or expired confirmation is logged and ignored.
   */
  onEvent(event: St2Event): boolean {
    if (!this.enabled || event.name !== TWOFACTOR_EVENT) return false;
    const parsed = v.safeParse(AnnouncementSchema, event.data);
    if (!parsed.success) {
      log.warn("ignored a two-factor confirmation without a uuid", { event: event.name });
      return true;
    }
    if (this.forward) this.forward(parsed.output.payload.uuid, event);
    else void this.confirm(parsed.output.payload.uuid).catch((err) => log.error("could not take a two-factor confirmation", { error: describeError(err) }));
    return true;
  }

  /**
   * Runs the execution held under `uuid`, once: resolves true when one was held (whatever the
   * run's outcome, which goes to the asker), false for an unknown, used or expired uuid.
   */
  async confirm(uuid: string): Promise<boolean> {
    const run = await this.claim(uuid);
    if (!run) return false;
    await run();
    return true;
  }

  /**
   * Takes the execution held under `uuid` (once across every instance sharing the store) and
   * resolves with what runs it, or undefined for an unknown, used or expired uuid. Rejects when
   * the shared store cannot be reached: nothing was taken, the caller may try again.
   */
  async claim(uuid: string): Promise<(() => Promise<void>) | undefined> {
    this.sweep();
    const local = this.held.get(uuid);
    const record = this.store ? await this.store.take(uuid) : local;
    this.held.delete(uuid);
    this.stored.delete(uuid);
    if (this.held.size === 0) this.stop();
    if (!record) {
      log.warn("ignored a two-factor confirmation for a request st2bot does not hold (unknown, already confirmed or expired)", { uuid });
      return undefined;
    }
    if (record.expiresAt !== undefined && record.expiresAt <= this.now()) {
      log.warn("ignored a two-factor confirmation that came too late", { uuid, alias: record.alias, user: record.user });
      if (local) this.tellExpired(local);
      // Another instance holds it: back into the store, so its holder's sweep still tells the asker.
      else this.store?.put(uuid, record as HeldRecord, this.sweepEveryMs + 60_000).catch(() => undefined);
      return undefined;
    }
    log.info("two-factor confirmation received; running the held alias execution", { uuid, alias: record.alias, user: record.user });
    // Failures reach the asker as the router words them.
    if (local) return () => reportFailures(() => local.run(), { reply: (text) => local.reply(text), log, failed: "confirmed alias execution failed", fields: { alias: local.alias } });
    const resume = this.resumer;
    if (!resume || !record.message) {
      log.error("a confirmed alias execution held by another instance cannot be run here (no router)", { uuid, alias: record.alias });
      return undefined;
    }
    const message = { ...record.message };
    this.confirmed.add(message);
    return () => resume(message).catch((err) => log.error("confirmed alias execution failed", { alias: record.alias, error: describeError(err) }));
  }

  /** Drops every held execution past its time, telling each asker; returns how many. */
  sweep(): number {
    const now = this.now();
    let dropped = 0;
    for (const [uuid, pending] of this.held) {
      if (pending.expiresAt > now) continue;
      this.held.delete(uuid);
      this.stored.delete(uuid);
      dropped++;
      void this.expire(uuid, pending);
    }
    if (this.held.size === 0) this.stop();
    return dropped;
  }

  /** Tells the asker, unless another instance took the shared record (it was confirmed there just now). */
  private async expire(uuid: string, pending: Held): Promise<void> {
    try {
      if (this.store && !(await this.store.take(uuid))) return;
    } catch (err) {
      log.error("could not drop an expired two-factor request from the shared store", { error: describeError(err) });
      return;
    }
    this.tellExpired(pending);
  }

  private tellExpired(pending: Held): void {
    log.warn("a two-factor confirmation did not arrive in time; the alias execution was dropped", { alias: pending.alias, user: pending.user });
    pending
      .reply(`No two-factor confirmation arrived within ${spell(this.ttlMs)}, so I did not run ${pending.alias}. Please ask again.`)
      .catch((err) => log.error("could not queue a reply", { error: describeError(err) }));
  }

  /** Stops the expiry timer (held executions stay until the next `hold` or `sweep`). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private startSweeping(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sweep(), this.sweepEveryMs);
    // A pending confirmation alone must not keep the process alive.
    this.timer.unref?.();
  }
}

/** `10 minutes`, `1 minute`, `30 seconds`. */
function spell(ms: number): string {
  const [n, unit] = ms >= 60_000 ? [Math.round(ms / 60_000), "minute"] : [Math.max(1, Math.round(ms / 1000)), "second"];
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}
