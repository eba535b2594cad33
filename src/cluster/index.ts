/**
 * Cluster mode, put together for the composition root: the Redis connections, the lease, the
 * shared intake (webhook, stream) and the leader's relay. Everything here is off unless
 * `[cluster]` is configured; then app.ts routes announcements through `intake`, builds the
 * delivery outbox on `outboxDb` with `fence(backend)`, and starts the chat side only in
 * `onElected`. A lost lease resolves `lost`: `st2bot run` then stops and exits 75, and the
 * supervisor (systemd, Kubernetes) starts it again as a standby.
 */
import type { ChatBackend } from "../chat/types.ts";
import type { Config } from "../config/schema.ts";
import { openDatabase, type Database } from "../store/db.ts";
import { logger } from "../lib/log.ts";
import type { SecretStore } from "../auth/secrets.ts";
import type { SessionStore } from "../auth/sessions.ts";
import { RedisSessions } from "./sessions.ts";
import { RedisConfirmations } from "./confirmations.ts";
import { fencedBackend } from "./fenced.ts";
import { RedisSecretStore } from "./secrets.ts";
import { SharedDeadLetters } from "./dead.ts";
import { SharedIntake } from "./intake.ts";
import { Lease, type LeaseStatus } from "./lease.ts";
import { createRedis, instanceName, type ClusterConfig, type Redis } from "./redis.ts";
import { ensureGroup, Relay, type RelaySink } from "./relay.ts";

const log = logger("cluster");

/** How long the relay's read waits for new entries. */
const READ_BLOCK_MS = 500;

/** What `!status` and `/metrics` show of the cluster. */
export interface ClusterStatus extends LeaseStatus {
  instance: string;
  /** Stream announcements spooled locally while Redis was unreachable (and replies queued behind them). */
  spooled: number;
}

/** A started cluster member (see the file comment). */
export interface Cluster {
  intake: SharedIntake;
  /** The webhook's replay ledger, kept in Redis with each accepted post. */
  replay: ReturnType<SharedIntake["replayLedger"]>;
  /** The leader's delivery outbox lives here: Redis holds the durable copy. */
  outboxDb: Database;
  fence(backend: ChatBackend): ChatBackend;
  /** Users' credentials, sealed with `key`, shared by every instance (a failover logs nobody out). */
  secretStore(key: CryptoKey): Promise<SecretStore>;
  /** `!st2outbox` / `!st2replay` over the shared dead letters; `local` gives the pending and delivered counts. */
  outboxControl(local: ConstructorParameters<typeof SharedDeadLetters>[2]): SharedDeadLetters;
  /** Login sessions shared by every instance: a link made by the leader opens on any of them. */
  sessions(ttlMs: number): SessionStore;
  /** Held two-factor requests, shared: a confirmation runs the request on whichever instance leads. */
  confirmations: RedisConfirmations;
  /** For the delivery outbox's `onDelivered` and `onDead`. */
  delivered(localId: number): void;
  died(localId: number, reason: string): void;
  /** Starts competing for the lease; `onElected(sink)` starts the chat side, then the relay reads into the sink. */
  start(elected: () => Promise<RelaySink>): void;
  /** Resolves (with the reason) when this instance held the lease and lost it, or could not start its chat side once elected. */
  lost: Promise<string>;
  status(): ClusterStatus;
  stop(): Promise<void>;
}

/** Connects to Redis (in the background when it is down: nothing here waits for it) and builds the parts. */
export async function openCluster(config: Config, localDb: Database): Promise<Cluster> {
  const c = config.cluster as ClusterConfig;
  const instance = instanceName(c);
  const main = createRedis(c);
  // The relay's XREADGROUP blocks up to READ_BLOCK_MS by design.
  const reader = createRedis(c, READ_BLOCK_MS);
  // Appends of one event-loop turn go out as one pipeline (ioredis keeps their order).
  main.options.enableAutoPipelining = true;
  await connectQuietly(main, "main");
  await connectQuietly(reader, "reader");
  // The lease on a connection of its own: a renewal must not queue behind a burst of appends
  // (it would time out, or arrive after the lease ran out in Redis while this instance still sends).
  const leasing = createRedis(c);
  await connectQuietly(leasing, "lease");
  // WAIT holds up its connection until the replicas answer: webhooks get their own.
  const waiter = c.wait_replicas > 0 ? createRedis(c, c.wait_timeout_seconds * 1000) : undefined;
  if (waiter) await connectQuietly(waiter, "webhook");
  const intake = new SharedIntake({
    redis: main,
    prefix: c.key_prefix,
    db: localDb,
    dedupeWindowMs: c.dedupe_window_seconds * 1000,
    waitReplicas: c.wait_replicas,
    waitTimeoutMs: c.wait_timeout_seconds * 1000,
    waitRedis: waiter,
  });
  await ensureGroup(main, intake.stream).catch(() => undefined);
  let resolveLost: (reason: string) => void = () => undefined;
  const lost = new Promise<string>((resolve) => (resolveLost = resolve));
  let relay: Relay | undefined;
  let dead: SharedDeadLetters | undefined;
  let elected: (() => Promise<RelaySink>) | undefined;
  const lease = new Lease({
    redis: leasing,
    prefix: c.key_prefix,
    instance,
    leaseMs: c.lease_seconds * 1000,
    renewMs: c.renew_seconds * 1000,
    marginMs: c.safety_margin_seconds * 1000,
    onElected: () => void becomeLeader(),
    onLost: (reason) => {
      void relay?.stop();
      resolveLost(reason);
    },
  });
  relay = new Relay({ redis: reader, commands: main, prefix: c.key_prefix, instance, mayRead: () => lease.maySend(), reclaimEveryMs: 2 * c.lease_seconds * 1000, blockMs: READ_BLOCK_MS });
  const becomeLeader = async () => {
    try {
      const sink = await elected!();
      relay!.start(sink);
    } catch (err) {
      // A leader without a chat connection would hold the lease and deliver nothing: stop, so
      // the lease is released (stop() does) and a peer takes over.
      log.error("could not start the chat side after the election; stepping down", { error: String(err) });
      resolveLost(`the chat side could not start: ${String(err)}`);
    }
  };
  return {
    intake,
    replay: intake.replayLedger(),
    outboxDb: openDatabase(":memory:"),
    fence: (backend) => fencedBackend(backend, lease),
    secretStore: (key) => new RedisSecretStore(main, c.key_prefix, key).open(),
    sessions: (ttlMs) => new RedisSessions(main, c.key_prefix, ttlMs),
    confirmations: new RedisConfirmations(main, c.key_prefix),
    outboxControl: (local) => {
      dead ??= new SharedDeadLetters(main, c.key_prefix, local);
      dead.start();
      return dead;
    },
    delivered: (id) => relay!.delivered(id),
    died: (id, reason) => relay!.died(id, reason),
    start: (onElected) => {
      elected = onElected;
      intake.start();
      lease.start();
    },
    lost,
    status: () => ({ ...lease.status(), instance, spooled: intake.spooled() }),
    stop: async () => {
      dead?.stop();
      intake.stop();
      await relay!.stop();
      await lease.stop();
      main.disconnect();
      reader.disconnect();
      leasing.disconnect();
      waiter?.disconnect();
    },
  };
}

/** The first connect; when Redis is down the client keeps retrying by itself, st2bot starts anyway. */
async function connectQuietly(redis: Redis, which: string): Promise<void> {
  redis.on("error", () => undefined); // reported by the callers that need Redis, once each
  try {
    await redis.connect();
  } catch (err) {
    log.warn(`Redis is unreachable (${which} connection); st2bot starts and keeps trying`, { error: String(err) });
  }
}
