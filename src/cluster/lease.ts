/**
 * The leader lease: one key in Redis, `<prefix>:leader` = `<instance>|<fencing number>`, set
 * with NX and a TTL (PX), renewed only by its holder (a compare-and-set in Lua), released by
 * its holder on a clean stop. The fencing number comes from INCR in the same script that sets
 * the key, so it grows with every new leader and two leaders never share one.
 *
 * Whether the holder may still speak is decided locally, without a round trip: the lease is
 * counted from the moment the acquiring or renewing command was *sent* (so Redis's own TTL
 * ends after ours), minus a safety margin, on the monotonic clock, which keeps counting while
 * the process is stopped (SIGSTOP, a long GC, a VM stall). A leader that wakes up past that
 * point refuses to send before it even asks Redis, then learns it lost the lease and steps down.
 *
 * While Redis is unreachable the holder keeps the role (`degraded`): nobody else can take the
 * lease either, and chat commands keep working. The price, documented in the README: a leader
 * cut off from a Redis its peers still reach keeps speaking until it hears from Redis again.
 */
import type { Redis } from "./redis.ts";
import { logger } from "../lib/log.ts";

const log = logger("cluster.lease");

const ACQUIRE = `if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local f = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. f, 'PX', ARGV[2])
return f`;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end return 0`;

/** Role of this instance. */
export type Role = "leader" | "standby";

/** The lease's timing (milliseconds) and names. */
export interface LeaseOptions {
  redis: Redis;
  prefix: string;
  instance: string;
  leaseMs: number;
  renewMs: number;
  marginMs: number;
  /** Monotonic clock in ms (tests inject one). */
  monotonic?: () => number;
  /** This instance became leader with `fence`. */
  onElected?: (fence: number) => void;
  /** This instance held the lease and lost it: it must not speak again (stop and restart). */
  onLost?: (reason: string) => void;
}

/** What `!status` and `/metrics` show of the lease. */
export interface LeaseStatus {
  role: Role;
  fence: number;
  /** Milliseconds since the lease was last confirmed by Redis (undefined when not leader). */
  leaseAgeMs?: number;
  /** Instances that reported within three leases, this one included (undefined when unknown). */
  peers?: number;
  /** True when Redis did not answer the last attempt. */
  redisDown: boolean;
}

/** One instance's side of the leader election (see the file comment). */
export class Lease {
  private role: Role = "standby";
  private fence = 0;
  private confirmedAt = 0;
  private validUntil = 0;
  private lost = false;
  private redisDown = false;
  private peers?: number;
  private timer?: ReturnType<typeof setTimeout>;
  private running = false;
  private readonly now: () => number;

  constructor(private readonly opts: LeaseOptions) {
    this.now = opts.monotonic ?? (() => performance.now());
  }

  private get key() {
    return `${this.opts.prefix}:leader`;
  }

  private get value() {
    return `${this.opts.instance}|${this.fence}`;
  }

  /** Starts trying for the lease (and renewing it once held), every `renewMs` (half that as standby). */
  start(): void {
    if (this.running) return;
    this.running = true;
    void this.tick();
  }

  /** True only while this instance holds a lease Redis confirmed recently enough to send now. */
  maySend(): boolean {
    if (this.role !== "leader" || this.lost) return false;
    return this.now() < this.validUntil || this.redisDown;
  }

  /** Role, fence, lease age and peers, for `!status` and `/metrics`. */
  status(): LeaseStatus {
    return {
      role: this.role,
      fence: this.fence,
      leaseAgeMs: this.role === "leader" ? Math.round(this.now() - this.confirmedAt) : undefined,
      peers: this.peers,
      redisDown: this.redisDown,
    };
  }

  /**
   * Called by a sender that found `maySend()` false while leader: the lease ran out locally
   * (a pause), so step down now rather than at the next renewal.
   */
  expired(): void {
    if (this.role === "leader" && !this.redisDown) this.lose("the lease ran out before it was renewed (was the process paused?)");
  }

  /** Stops renewing; a held lease is released so a peer takes over at once (rolling restart). */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    if (this.role !== "leader" || this.lost) return;
    this.role = "standby";
    this.validUntil = 0;
    try {
      await this.opts.redis.eval(RELEASE, 1, this.key, this.value);
    } catch (err) {
      log.warn("could not release the lease; a peer takes over when it expires", { error: String(err) });
    }
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    try {
      await (this.role === "leader" ? this.renew() : this.acquire());
      await this.heartbeat();
      if (this.redisDown) log.info("Redis answers again");
      this.redisDown = false;
    } catch (err) {
      if (!this.redisDown) log.warn("Redis does not answer; the lease cannot be renewed or taken", { error: String(err), role: this.role });
      this.redisDown = true;
    }
    if (!this.running) return;
    const delay = this.role === "leader" ? this.opts.renewMs : this.opts.renewMs / 2;
    this.timer = setTimeout(() => void this.tick(), delay);
  }

  private async acquire(): Promise<void> {
    const sentAt = this.now();
    const got = Number(await this.opts.redis.eval(ACQUIRE, 2, this.key, `${this.opts.prefix}:fence`, this.opts.instance, this.opts.leaseMs));
    if (!got || !this.running) return;
    this.fence = got;
    this.role = "leader";
    this.confirm(sentAt);
    log.info("this instance is the leader", { fence: got, instance: this.opts.instance });
    this.opts.onElected?.(got);
  }

  private async renew(): Promise<void> {
    const sentAt = this.now();
    const ok = Number(await this.opts.redis.eval(RENEW, 1, this.key, this.value, this.opts.leaseMs));
    if (ok) this.confirm(sentAt);
    else this.lose("another instance holds the lease now");
  }

  private confirm(sentAt: number): void {
    this.confirmedAt = sentAt;
    this.validUntil = sentAt + this.opts.leaseMs - this.opts.marginMs;
  }

  private lose(reason: string): void {
    if (this.lost) return;
    this.lost = true;
    this.role = "standby";
    this.validUntil = 0;
    this.running = false;
    clearTimeout(this.timer);
    log.error(`this instance lost the leader lease: ${reason}; it stops speaking`, { fence: this.fence });
    this.opts.onLost?.(reason);
  }

  /** Records this instance as alive and counts the peers that are. */
  private async heartbeat(): Promise<void> {
    const key = `${this.opts.prefix}:peers`;
    const wall = Date.now();
    const horizon = wall - 3 * this.opts.leaseMs;
    const r = await this.opts.redis.multi().zadd(key, wall, this.opts.instance).zremrangebyscore(key, 0, horizon).zcard(key).exec();
    this.peers = Number(r?.[2]?.[1] ?? 0);
  }
}
