/**
 * `st2bot doctor`'s cluster checks: Redis answers (through the Sentinels when configured), its
 * persistence keeps what st2bot accepted (appendonly, appendfsync), nothing is evicted, and who
 * holds the lease. A ✓ means Redis really answered; each ! says what a crash could lose.
 */
import type { Config } from "../config/schema.ts";
import { clusterProblem, createRedis, type ClusterConfig, type Redis } from "./redis.ts";

/** One verdict, as `st2bot doctor` prints it. */
export interface ClusterCheck {
  verdict: "ok" | "warn" | "fail";
  what: string;
  fix?: string;
}

const field = (info: string, name: string) => new RegExp(`^${name}:(.*)$`, "m").exec(info)?.[1]?.trim();

/** The checks of `[cluster]` (none without it). */
export async function checkCluster(config: Config, timeoutMs = 3000): Promise<ClusterCheck[]> {
  const c = config.cluster as ClusterConfig | undefined;
  if (!c) return [];
  const problem = clusterProblem(c);
  if (problem) return [{ verdict: "fail", what: problem }];
  const where = c.sentinels?.length ? `Sentinels ${c.sentinels.join(", ")} (${c.sentinel_name})` : (c.redis_url ?? "").replace(/\/\/[^@/]*@/, "//");
  const redis = createRedis(c);
  redis.on("error", () => undefined);
  try {
    await withTimeout(redis.connect().then(() => redis.ping()), timeoutMs);
  } catch (err) {
    redis.disconnect();
    return [{ verdict: "fail", what: `Redis at ${where} does not answer (${String(err).replace(/^Error: /, "")})`, fix: "check cluster.redis_url (or sentinels), the password and TLS settings, and that Redis runs" }];
  }
  try {
    return [{ verdict: "ok", what: `Redis at ${where} answers` }, ...(await persistence(redis, c)), await holder(redis, c)];
  } finally {
    redis.disconnect();
  }
}

async function persistence(redis: Redis, c: ClusterConfig): Promise<ClusterCheck[]> {
  const out: ClusterCheck[] = [];
  const info = await redis.info("persistence");
  const fsync = await redis.config("GET", "appendfsync").then((r) => (r as string[])[1], () => undefined);
  if (field(info, "aof_enabled") !== "1") {
    out.push({
      verdict: "warn",
      what: "Redis runs without appendonly: a restart or crash of Redis loses every message accepted and not yet delivered (and the lease, logins, replay record)",
      fix: "set appendonly yes (and appendfsync everysec or always) in redis.conf",
    });
  } else if (fsync === "no") {
    out.push({ verdict: "warn", what: "Redis appendonly is on with appendfsync no: a crash of the host loses what the OS had not yet written", fix: "set appendfsync everysec (at most a second lost on a power loss) or always" });
  } else {
    const loss = fsync === "always" ? "nothing acknowledged is lost on a crash" : fsync === "everysec" ? "a power loss of the Redis host may lose the last second" : "appendfsync could not be read";
    out.push({ verdict: "ok", what: `Redis appendonly is on (appendfsync ${fsync ?? "?"}): ${loss}` });
  }
  const policy = await redis.config("GET", "maxmemory-policy").then((r) => (r as string[])[1], () => undefined);
  if (policy && policy !== "noeviction" && !policy.startsWith("volatile")) {
    out.push({ verdict: "warn", what: `Redis maxmemory-policy is ${policy}: under memory pressure it may evict the shared outbox`, fix: "set maxmemory-policy noeviction (or a volatile-* policy)" });
  }
  const replication = await redis.info("replication");
  const replicas = Number(field(replication, "connected_slaves") ?? 0);
  if (replicas > 0 && c.wait_replicas === 0) {
    out.push({
      verdict: "ok",
      what: `${replicas} replica(s): replication is asynchronous, so a failover may lose the last messages the replica had not received`,
      fix: "cluster.wait_replicas = 1 makes a webhook's 202 wait until a replica has the message",
    });
  } else if (c.wait_replicas > replicas) {
    out.push({ verdict: "warn", what: `cluster.wait_replicas is ${c.wait_replicas} but Redis has ${replicas} replica(s) connected: every webhook post answers 503`, fix: "connect the replicas, or lower cluster.wait_replicas" });
  } else if (replicas > 0) {
    out.push({ verdict: "ok", what: `${replicas} replica(s); a webhook's 202 waits for ${c.wait_replicas} of them` });
  }
  return out;
}

async function holder(redis: Redis, c: ClusterConfig): Promise<ClusterCheck> {
  const lease = await redis.get(`${c.key_prefix}:leader`);
  const peers = await redis.zcount(`${c.key_prefix}:peers`, Date.now() - 3 * c.lease_seconds * 1000, "+inf");
  const pending = await redis.xlen(`${c.key_prefix}:outbox`).catch(() => 0);
  const [who, fence] = (lease ?? "").split("|");
  return { verdict: "ok", what: lease ? `leader: ${who} (fence ${fence}); ${peers} instance(s) seen; ${pending} message(s) in the shared outbox` : `no leader now; ${peers} instance(s) seen; ${pending} message(s) in the shared outbox` };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
