/**
 * The way into the shared outbox: a Redis Stream (`<prefix>:outbox`) every instance appends to
 * and only the leader reads (cluster/relay.ts).
 *
 * - Webhook posts: one script appends the message and, for a signed post, records its signature
 *   (SET NX with the signature's remaining window) — both or neither. The caller answers 202 only
 *   after Redis confirmed; when Redis is unreachable it throws and the webhook answers 503.
 * - Stream announcements reach every instance, so each is appended at most once per occurrence:
 *   its key is a hash of the event plus how many times this instance saw that same hash within
 *   the de-duplication window (`seen:<hash>:<n>`, SET NX PX window, in the script that appends).
 *   Two genuinely identical announcements get n = 1 and n = 2 on every instance and both
 *   arrive; the same announcement seen by two instances gets the same n and arrives once.
 *   Edge cases (README): an instance that missed the first of two identical announcements
 *   within the window counts the second as n = 1 and drops it — harmless while another
 *   instance saw both, a loss if no instance did; an occurrence counted across the end of one
 *   instance's window may arrive twice.
 * - Redis unreachable: stream announcements are spooled in the local SQLite database
 *   (`cluster_spool`) and forwarded in order, with their de-duplication key, once Redis answers:
 *   at once when the connection is ready again, else on the next second's tick.
 * - The bot's replies: see `reply`. While the spool holds anything they join it (in order) and a
 *   forward starts at once; only a forward that fails (Redis really away) hands them to the
 *   leader's own outbox.
 */
import { createHash, randomUUID } from "node:crypto";
import type { Announcement } from "../delivery/announcement.ts";
import type { OutboxSource } from "../delivery/outbox.ts";
import type { Database } from "../store/db.ts";
import { logger } from "../lib/log.ts";
import type { Redis } from "./redis.ts";

const log = logger("cluster.intake");

/** Appends ARGV[2..] to KEYS[2] unless the guard KEYS[1] exists; the guard is set for ARGV[1] ms. */
const GUARDED_XADD = `if KEYS[1] ~= '' then
  if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return false end
end
return redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))`;

/** The source of a shared-outbox entry that is a two-factor confirmation (its payload is the uuid). */
export const CONFIRMATION = "2fa";

/** Thrown when a signed post was accepted before (another instance may have taken it): a replay. */
export class ReplayedPost extends Error {
  readonly replayed = true;
}

/** Settings of the intake. */
export interface IntakeOptions {
  redis: Redis;
  prefix: string;
  /** The local database, for the spool. */
  db: Database;
  dedupeWindowMs: number;
  clock?: () => number;
  /**
   * Webhook posts only: how many replicas must confirm (`WAIT`) before the append counts, on
   * `waitRedis`, a connection of its own (WAIT holds up the commands queued behind it).
   */
  waitReplicas?: number;
  waitTimeoutMs?: number;
  waitRedis?: Redis;
}

interface Spooled {
  id: number;
  guard: string;
  payload: string;
  source: string;
}

type GuardedRedis = Redis & { st2botGuardedXadd(guard: string, stream: string, ttl: number, ...fields: string[]): Promise<string | null> };

/** Appends to the shared outbox (see the file comment); also the webhook's `Enqueuer`. */
export class SharedIntake {
  private readonly redis: GuardedRedis;
  private readonly waitRedis?: GuardedRedis;
  private readonly now: () => number;
  /**
   * Hash → when its window started; the count lives apart, only for hashes seen more than once
   * (rare). Keys are numbers (see `dedupeKey`): no object or string is kept per announcement
   * held for the window (scripts/bench/cluster-memory.ts).
   */
  private readonly seen = new Map<number, number>();
  private readonly repeats = new Map<number, number>();
  private readonly sql;
  private pendingGuard?: { key: string; ttlMs: number };
  private turnWaiters: Array<() => void> = [];
  private flushTimer?: ReturnType<typeof setInterval>;
  private flushing = false;
  private spoolSize: number;
  /** Spooled replies (by spool row id) and where each goes should Redis not take the spool. */
  private readonly spooledReplies = new Map<number, { a: Announcement; local: (a: Announcement) => void }>();
  private sweepAt = 0;
  /** Counters for the log and tests. */
  readonly counts = { appended: 0, duplicates: 0, spooled: 0, forwarded: 0 };

  constructor(private readonly opts: IntakeOptions) {
    this.now = opts.clock ?? Date.now;
    opts.redis.defineCommand("st2botGuardedXadd", { numberOfKeys: 2, lua: GUARDED_XADD });
    opts.waitRedis?.defineCommand("st2botGuardedXadd", { numberOfKeys: 2, lua: GUARDED_XADD });
    this.redis = opts.redis as GuardedRedis;
    this.waitRedis = opts.waitRedis as GuardedRedis | undefined;
    opts.db.exec(`CREATE TABLE IF NOT EXISTS cluster_spool (
      id INTEGER PRIMARY KEY AUTOINCREMENT, guard TEXT NOT NULL, payload TEXT NOT NULL, source TEXT NOT NULL, created_at INTEGER NOT NULL)`);
    this.sql = {
      spool: opts.db.prepare("INSERT INTO cluster_spool (guard, payload, source, created_at) VALUES (?, ?, ?, ?)"),
      head: opts.db.prepare("SELECT id, guard, payload, source FROM cluster_spool ORDER BY id LIMIT 200"),
      drop: opts.db.prepare("DELETE FROM cluster_spool WHERE id = ?"),
      count: opts.db.prepare("SELECT COUNT(*) AS n FROM cluster_spool"),
    };
    // A previous run's spool (Redis was away when it stopped) is forwarded like this run's.
    this.spoolSize = (this.sql.count.get() as { n: number }).n;
    // Redis is back: forward now, not up to a second later (replies queue behind the spool).
    opts.redis.on("ready", () => void this.flushSpool());
  }

  /** The stream key. */
  get stream(): string {
    return `${this.opts.prefix}:outbox`;
  }

  /** Resolves, in call order, once this turn of the event loop is over (one setImmediate for all). */
  private endOfTurn(): Promise<void> {
    return new Promise((resolve) => {
      if (this.turnWaiters.push(resolve) > 1) return;
      setImmediate(() => {
        const waiters = this.turnWaiters;
        this.turnWaiters = [];
        for (const w of waiters) w();
      });
    });
  }

  /** Forwards the spool now (a previous run's) and every second while it holds anything. */
  start(): void {
    void this.flushSpool();
    this.flushTimer = setInterval(() => {
      // Also when no announcement comes: a quiet spell after a burst must not keep its counts.
      this.sweepSeen();
      void this.flushSpool();
    }, 1000);
  }

  /** Stops forwarding the spool (what it holds stays for the next run). */
  stop(): void {
    clearInterval(this.flushTimer);
  }

  /** Announcements (and replies queued behind them) waiting in the local spool. */
  spooled(): number {
    return this.spoolSize;
  }

  /**
   * A stream announcement (the event's name and raw data identify it): appended once per
   * occurrence across the cluster, or spooled while Redis is unreachable. Never throws.
   */
  async acceptStream(eventName: string, eventData: unknown, a: Announcement): Promise<void> {
    await this.acceptOnce(eventName, eventData, JSON.stringify(a), "stream");
  }

  /**
   * A two-factor confirmation (the stream event names `uuid`): appended once like an
   * announcement, as an entry the leader's relay hands to the held requests instead of chat —
   * so it is taken by whichever instance leads when it is read, also after a failover.
   */
  async acceptConfirmation(eventName: string, eventData: unknown, uuid: string): Promise<void> {
    await this.acceptOnce(eventName, eventData, uuid, CONFIRMATION);
  }

  private async acceptOnce(eventName: string, eventData: unknown, payload: string, source: string): Promise<void> {
    // Appended at the end of this turn of the event loop, as one process stores announcements
    // (Outbox.enqueueSoon): a bot ack whose StackStorm answer was read in the same turn as the
    // execution's result still goes first (tests/e2e/cluster-order.test.ts).
    await this.endOfTurn();
    const guard = this.dedupeKey(eventName, eventData);
    try {
      // Behind a spool, an announcement waits its turn: order is kept across an outage.
      if (this.spoolSize > 0) throw new Error("older announcements are still spooled");
      await this.append(guard, this.opts.dedupeWindowMs, payload, source);
    } catch (err) {
      try {
        this.sql.spool.run(guard, payload, source, this.now());
      } catch (spoolErr) {
        // Neither Redis nor the local disk took it: say so loudly, never crash the stream.
        log.error("ANNOUNCEMENT LOST: Redis is unreachable and the local spool could not store it", { redis: String(err), spool: String(spoolErr) });
        return;
      }
      this.spoolSize++;
      if (this.counts.spooled++ === 0 || this.counts.spooled % 1000 === 0) log.warn("Redis is unreachable: stream announcements are spooled locally", { error: String(err), spooled: this.counts.spooled });
    }
  }

  /**
   * A reply of the bot itself (made on the leader): appended to the shared outbox like any
   * announcement, so it is ordered with stream results (one stream, one order) and a leader
   * that crashes before chat confirmed it leaves it to the next leader. While the spool holds
   * announcements (Redis was away a moment ago), the reply joins the spool behind them and a
   * forward starts at once: Redis up → it reaches Redis in order, as if the spool had been
   * empty. An append that failed while the connection stays up (a timeout: Redis slow, or
   * stopped) is tried again the same way, through the spool; its guard key (one per reply)
   * drops the retry if Redis did apply the first append late, so the reply is in the stream
   * once, where it was first appended. Goes to `local` (the leader's own outbox) only when it is
   * secret (a login link never sits in Redis in clear) or when Redis does not take it (the
   * connection is down, or the retry failed too: chat commands keep answering during an outage).
   */
  reply(a: Announcement, local: (a: Announcement) => void): void {
    if (a.secret) return local(a);
    if (this.spoolSize > 0) return this.spoolReply(a, local, "");
    const guard = `${this.opts.prefix}:reply:${randomUUID()}`;
    this.append(guard, this.opts.dedupeWindowMs, JSON.stringify(a), "bot").catch((err) =>
      this.opts.redis.status === "ready" ? this.spoolReply(a, local, guard) : this.replyLocally(a, local, err),
    );
  }

  /** A reply behind the spool (see `reply`); straight to `local` when the disk refuses it. */
  private spoolReply(a: Announcement, local: (a: Announcement) => void, guard: string): void {
    let id: number;
    try {
      id = Number(this.sql.spool.run(guard, JSON.stringify(a), "bot", this.now()).lastInsertRowid);
    } catch (err) {
      return this.replyLocally(a, local, err);
    }
    this.spoolSize++;
    this.spooledReplies.set(id, { a, local });
    void this.flushSpool();
  }

  /** Redis did not take a reply: the leader delivers it alone (commands keep answering). */
  private replyLocally(a: Announcement, local: (a: Announcement) => void, err: unknown): void {
    log.warn("Redis did not take a reply; it is delivered from this instance only", { error: String(err) });
    try {
      local(a);
    } catch (localErr) {
      log.error("REPLY LOST: neither Redis nor the local outbox took it", { redis: String(err), local: String(localErr) });
    }
  }

  /**
   * The webhook's enqueue: resolves with the entry id once Redis (and `waitReplicas` replicas)
   * confirmed; rejects otherwise.
   */
  async enqueue(a: Announcement, source: OutboxSource): Promise<string> {
    const id = await this.appendConfirmed("", 0, JSON.stringify(a), source);
    if (id === null) throw new Error("unexpected: an unguarded append was refused");
    return id;
  }

  /**
   * `enqueue` with the webhook's replay record: `record` calls `replay().record(...)`, which this
   * intake turns into the guard of the same script. Rejects with ReplayedPost on a replay.
   */
  async enqueueWith(a: Announcement, source: OutboxSource, record: () => void): Promise<string> {
    this.pendingGuard = undefined;
    record();
    const guard = this.pendingGuard as { key: string; ttlMs: number } | undefined;
    this.pendingGuard = undefined;
    if (!guard) return this.enqueue(a, source);
    const id = await this.appendConfirmed(guard.key, guard.ttlMs, JSON.stringify(a), source);
    if (id === null) throw new ReplayedPost("this signed post was accepted before");
    return id;
  }

  /** An append on the webhook's connection, then `WAIT` for the replicas when asked to. */
  private async appendConfirmed(guard: string, ttlMs: number, payload: string, source: string): Promise<string | null> {
    const wanted = this.opts.waitReplicas ?? 0;
    const redis = wanted > 0 && this.waitRedis ? this.waitRedis : this.redis;
    const id = await this.append(guard, ttlMs, payload, source, redis);
    if (wanted > 0 && id !== null) {
      const got = Number(await redis.wait(wanted, this.opts.waitTimeoutMs ?? 1000));
      // Appended on the primary but not yet on enough replicas: the caller hears 503 and may retry.
      if (got < wanted) throw new Error(`only ${got} of ${wanted} Redis replica(s) confirmed the message in time`);
    }
    return id;
  }

  /**
   * The webhook's replay ledger for cluster mode: `seen` cannot ask Redis synchronously, so it
   * says no and the script's SET NX decides; `record` hands the signature to `enqueueWith`.
   */
  replayLedger() {
    return {
      seen: (_signature: string, _now: number) => false,
      record: (signature: string, expiresAt: number, now: number) => {
        const hash = createHash("sha256").update(signature).digest("hex");
        this.pendingGuard = { key: `${this.opts.prefix}:replay:${hash}`, ttlMs: Math.max(1, expiresAt - now) };
        return true;
      },
    };
  }

  private async append(guard: string, ttlMs: number, payload: string, source: string, redis = this.redis): Promise<string | null> {
    const id = await redis.st2botGuardedXadd(guard, this.stream, ttlMs, "a", payload, "s", source, "t", String(this.now()));
    if (id === null) this.counts.duplicates++;
    else this.counts.appended++;
    return id;
  }

  /**
   * `<prefix>:seen:<sha256 of name and data>:<occurrence within the window>`; the hash is cut to
   * 128 bits (base64url), plenty against accidental collisions and half the memory per entry.
   * The local count is keyed by the hash's first 53 bits as a number (no string kept per
   * announcement): two announcements sharing them within a window (about 5 in a million at
   * 300,000 per window) share a count, so the second may arrive twice — never lost, since the
   * guard key keeps the full 128 bits.
   */
  private dedupeKey(name: string, data: unknown): string {
    const digest = createHash("sha256").update(name).update("\0").update(JSON.stringify(data) ?? "").digest();
    const hash = digest.subarray(0, 16).toString("base64url");
    const local = digest.readUIntBE(0, 6) * 32 + (digest[6]! >> 3);
    const now = this.now();
    const window = this.opts.dedupeWindowMs;
    const firstAt = this.seen.get(local);
    let n = 1;
    if (firstAt === undefined || now - firstAt > window) {
      this.seen.set(local, now);
      this.repeats.delete(local);
    } else {
      n = (this.repeats.get(local) ?? 1) + 1;
      this.repeats.set(local, n);
    }
    this.sweepSeen();
    return `${this.opts.prefix}:seen:${hash}:${n}`;
  }

  /** Drops counts older than the window (at most once a second: a sweep per call would make a burst quadratic). */
  private sweepSeen(): void {
    const now = this.now();
    if (now < this.sweepAt) return;
    this.sweepAt = now + 1000;
    const window = this.opts.dedupeWindowMs;
    for (const [h, firstAt] of this.seen) {
      if (now - firstAt <= window) continue;
      this.seen.delete(h);
      this.repeats.delete(h);
    }
  }

  /** How many announcement hashes are counted now (they leave once their window passed). */
  get counted(): number {
    return this.seen.size;
  }

  /**
   * Forwards the spool in order (what is spooled meanwhile too); stops at the first failure
   * (Redis still away): this run's spooled replies then go to the leader's own outbox.
   */
  async flushSpool(): Promise<number> {
    if (this.flushing || this.spoolSize === 0) return 0;
    this.flushing = true;
    let sent = 0;
    try {
      for (;;) {
        const rows = this.sql.head.all() as Spooled[];
        if (rows.length === 0) break;
        for (const row of rows) {
          await this.append(row.guard, row.guard ? this.opts.dedupeWindowMs : 0, row.payload, row.source);
          this.sql.drop.run(row.id);
          this.spooledReplies.delete(row.id);
          this.spoolSize--;
          sent++;
        }
      }
    } catch (err) {
      // Still unreachable: announcements wait for the next try, replies are answered now.
      this.replyFromSpool(err);
    } finally {
      this.flushing = false;
    }
    if (sent > 0) {
      this.counts.forwarded += sent;
      log.info("forwarded spooled stream announcements to Redis", { count: sent, left: this.spooled() });
    }
    return sent;
  }

  /** The spool could not be forwarded: its replies leave it for the leader's own outbox. */
  private replyFromSpool(err: unknown): void {
    for (const [id, { a, local }] of this.spooledReplies) {
      this.sql.drop.run(id);
      this.spoolSize--;
      this.replyLocally(a, local, err);
    }
    this.spooledReplies.clear();
  }
}
