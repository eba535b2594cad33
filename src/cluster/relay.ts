/**
 * The leader's side of the shared outbox: entries of the Redis Stream are read through a
 * consumer group and handed to the leader's local delivery outbox (the same code that retries,
 * orders, rate-limits and splits in one-process mode, on an in-memory database here, since
 * Redis is the durable copy). An entry is acknowledged (XACK, then XDEL) only after the chat
 * service confirmed every part of it, or once it was kept as dead (then it moves to the shared
 * dead letters, `<prefix>:dead`).
 *
 * On election the new leader first takes over what any other consumer (a dead or deposed
 * leader) had read but not acknowledged (XAUTOCLAIM from 0 with no idle minimum: the old
 * leader cannot send any more, its lease is fenced), then reads new entries. Every
 * `reclaimEveryMs` it takes over again what stayed unacknowledged with another consumer longer
 * than that (a deposed leader that woke from a pause may still have read a last batch Redis
 * had answered while it was stopped). Reading pauses
 * while the local outbox holds `maxInFlight` messages, so a backlog stays in Redis.
 */
import type { Announcement } from "../delivery/announcement.ts";
import type { OutboxSource } from "../delivery/outbox.ts";
import { logger } from "../lib/log.ts";
import { CONFIRMATION } from "./intake.ts";
import type { Redis } from "./redis.ts";

const log = logger("cluster.relay");

const GROUP = "deliver";
const ADD_DEAD = `local n = redis.call('INCR', KEYS[2]) redis.call('HSET', KEYS[1], n, ARGV[1]) return n`;

/** Where read entries go: the leader's local outbox. */
export interface RelaySink {
  enqueue(a: Announcement, source: OutboxSource): number;
  stats(): { pending: number };
  /**
   * A two-factor confirmation read from the shared outbox: resolves once the held request was
   * taken (it then runs in the background) or found absent; rejects when it could not be
   * taken (the entry stays unacknowledged and is read again).
   */
  confirm?(uuid: string): Promise<unknown>;
}

/** Settings of the relay; `redis` must be a connection of its own (XREADGROUP blocks it). */
export interface RelayOptions {
  redis: Redis;
  /** Where acknowledgements and dead letters go without waiting behind a blocked read (default `redis`). */
  commands?: Redis;
  prefix: string;
  instance: string;
  /** True while this instance may deliver (the lease). */
  mayRead: () => boolean;
  maxInFlight?: number;
  /** How long one XREADGROUP waits for new entries (ms). */
  blockMs?: number;
  /** How often entries idle this long elsewhere are taken over (ms; default 6 s, two leases). */
  reclaimEveryMs?: number;
}

const isSource = (s: string | undefined): s is OutboxSource => s === "stream" || s === "webhook" || s === "bot";

/** Creates the consumer group (reading from the stream's start) when it does not exist yet. */
export async function ensureGroup(redis: Redis, stream: string): Promise<void> {
  try {
    await redis.xgroup("CREATE", stream, GROUP, "0", "MKSTREAM");
  } catch (err) {
    if (!String(err).includes("BUSYGROUP")) throw err;
  }
}

/** The leader's reader of the shared outbox (see the file comment). */
export class Relay {
  /** Local outbox id → the entry's id, payload and source (for a dead letter). */
  private readonly ids = new Map<number, { id: string; payload: string; source: string }>();
  /** Entry ids in the local outbox or delivered and not yet acknowledged: a re-claim of one is not delivered twice. */
  private readonly held = new Set<string>();
  /** Local ids reported dead inside `enqueue` itself (no target), before they were mapped. */
  private readonly early = new Map<number, string>();
  private admitting = false;
  private acks: string[] = [];
  private dead: Array<[string, string]> = [];
  private ackScheduled = false;
  private running = false;
  private loop?: Promise<void>;
  private sink?: RelaySink;
  /** Entries handed to the local outbox since start, and of those, taken over from another consumer. */
  readonly counts = { read: 0, claimed: 0, acked: 0 };

  constructor(private readonly opts: RelayOptions) {}

  private get stream() {
    return `${this.opts.prefix}:outbox`;
  }

  /** Starts reading into `sink` (call once elected). */
  start(sink: RelaySink): void {
    if (this.running) return;
    this.sink = sink;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops reading (after the current read returns) and sends the acknowledgements still owed. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.flushAcks();
  }

  /** The local outbox confirmed message `localId`: acknowledge its entry. */
  delivered(localId: number): void {
    const entry = this.ids.get(localId);
    if (entry === undefined) return;
    this.ids.delete(localId);
    this.acks.push(entry.id);
    this.scheduleAcks();
  }

  /** The local outbox gave message `localId` up: shared dead letter, then acknowledged. */
  died(localId: number, reason: string): void {
    const entry = this.ids.get(localId);
    if (entry === undefined) {
      // Inside `admit`'s enqueue (no target): mapped just after. Any other is not an entry of
      // the shared outbox (a reply kept local) and must not be remembered for ever.
      if (this.admitting) this.early.set(localId, reason);
      return;
    }
    this.ids.delete(localId);
    this.dead.push([entry.id, JSON.stringify({ reason, at: Date.now(), payload: entry.payload, source: entry.source })]);
    this.acks.push(entry.id);
    this.scheduleAcks();
  }

  private scheduleAcks(): void {
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => void this.flushAcks());
  }

  /** One round trip for every acknowledgement of this turn; kept for the next try on failure. */
  private async flushAcks(): Promise<void> {
    this.ackScheduled = false;
    const acks = this.acks;
    const dead = this.dead;
    if (acks.length === 0) return;
    this.acks = [];
    this.dead = [];
    try {
      const m = (this.opts.commands ?? this.opts.redis).multi();
      // Numbered by INCR so `!st2replay <n>` names one across instances and failovers.
      for (const [, body] of dead) m.eval(ADD_DEAD, 2, `${this.opts.prefix}:dead`, `${this.opts.prefix}:dead:seq`, body);
      m.xack(this.stream, GROUP, ...acks).xdel(this.stream, ...acks);
      await m.exec();
      for (const id of acks) this.held.delete(id);
      this.counts.acked += acks.length;
    } catch (err) {
      // Delivered but not yet acknowledged: kept and sent again (a new leader would redeliver them).
      this.acks = acks.concat(this.acks);
      this.dead = dead.concat(this.dead);
      log.warn("could not acknowledge delivered messages in Redis; retrying", { count: acks.length, error: String(err) });
      setTimeout(() => this.scheduleAcks(), 500);
    }
  }

  private async run(): Promise<void> {
    let claimed = false;
    const every = this.opts.reclaimEveryMs ?? 6000;
    let reclaimAt = performance.now() + every;
    let failing = false;
    while (this.running) {
      // A lease that lapsed locally may still be renewed (a slow Redis, a stalled loop): wait,
      // do not quit — a lost lease stops the relay from outside (`stop`).
      if (!this.opts.mayRead()) {
        await Bun.sleep(50);
        continue;
      }
      try {
        if (!claimed) {
          await ensureGroup(this.opts.redis, this.stream);
          await this.claimAll(0);
          claimed = true;
          continue;
        }
        if (performance.now() >= reclaimAt) {
          await this.claimAll(every);
          reclaimAt = performance.now() + every;
        }
        if (this.sink!.stats().pending >= (this.opts.maxInFlight ?? 5000)) {
          await Bun.sleep(20);
          continue;
        }
        const reply = (await this.opts.redis.xreadgroup(
          "GROUP", GROUP, this.opts.instance, "COUNT", 1000, "BLOCK", this.opts.blockMs ?? 500, "STREAMS", this.stream, ">",
        )) as Array<[string, Array<[string, string[]]>]> | null;
        for (const [, entries] of reply ?? []) this.admit(entries, false);
        failing = false;
      } catch (err) {
        // NOGROUP: Redis lost its data (restarted without persistence); recreate and go on.
        if (String(err).includes("NOGROUP")) claimed = false;
        else if (!failing) log.warn("reading the shared outbox failed; retrying until it works", { error: String(err) });
        failing = true;
        await Bun.sleep(250);
      }
    }
  }

  /** Takes over every entry read and not acknowledged for `minIdleMs` (this instance's own in delivery excepted). */
  private async claimAll(minIdleMs: number): Promise<void> {
    let cursor = "0-0";
    const before = this.counts.claimed;
    do {
      const [next, entries, deleted] = (await this.opts.redis.xautoclaim(this.stream, GROUP, this.opts.instance, minIdleMs, cursor, "COUNT", 1000)) as [
        string,
        Array<[string, string[]] | null>,
        string[]?,
      ];
      this.admit(entries.filter((e): e is [string, string[]] => e !== null && !this.held.has(e[0])), true);
      // Entries deleted while pending (acknowledged elsewhere): nothing to deliver.
      if (deleted?.length) await this.opts.redis.xack(this.stream, GROUP, ...deleted);
      cursor = next;
    } while (cursor !== "0-0" && this.running);
    if (this.counts.claimed > before) log.info("took over messages a previous leader had not confirmed", { count: this.counts.claimed - before });
    if (minIdleMs === 0) await this.forgetIdleConsumers();
  }

  /**
   * Every process that once led left a consumer in the group (its name has the pid): drop the
   * ones that hold nothing now, so the group does not grow with every restart.
   */
  private async forgetIdleConsumers(): Promise<void> {
    const consumers = (await this.opts.redis.xinfo("CONSUMERS", this.stream, GROUP)) as unknown[][];
    for (const c of consumers) {
      const f: Record<string, unknown> = {};
      for (let i = 0; i + 1 < c.length; i += 2) f[String(c[i])] = c[i + 1];
      if (f.name !== this.opts.instance && Number(f.pending) === 0) await this.opts.redis.xgroup("DELCONSUMER", this.stream, GROUP, String(f.name));
    }
  }

  /** Hands a confirmation to the held requests; acknowledged once taken, left pending (re-read later) when that failed. */
  private confirm(id: string, uuid: string): void {
    this.held.add(id);
    const taking = this.sink!.confirm ? this.sink!.confirm(uuid) : Promise.resolve();
    taking.then(
      () => {
        this.acks.push(id);
        this.scheduleAcks();
      },
      (err) => {
        this.held.delete(id);
        log.warn("could not take a two-factor confirmation; it is read again later", { error: String(err) });
      },
    );
  }

  private admit(entries: Array<[string, string[]]>, claimed: boolean): void {
    for (const [id, fields] of entries) {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      if (f.s === CONFIRMATION) {
        this.confirm(id, f.a ?? "");
        continue;
      }
      let a: Announcement;
      try {
        a = JSON.parse(f.a ?? "");
      } catch {
        log.error("dropped an unreadable entry of the shared outbox", { id });
        this.acks.push(id);
        this.scheduleAcks();
        continue;
      }
      this.admitting = true;
      let localId: number;
      try {
        localId = this.sink!.enqueue(a, isSource(f.s) ? f.s : "stream");
      } finally {
        this.admitting = false;
      }
      this.ids.set(localId, { id, payload: f.a!, source: f.s ?? "stream" });
      this.held.add(id);
      const reason = this.early.get(localId);
      if (reason !== undefined) {
        this.early.delete(localId);
        this.died(localId, reason);
      }
      this.counts.read++;
      if (claimed) this.counts.claimed++;
    }
  }
}
