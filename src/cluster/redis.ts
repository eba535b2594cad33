/**
 * The connection to Redis that cluster mode shares: one URL, or Sentinels that name the current
 * primary; password and TLS from `[cluster]`. ioredis is used because it follows a Sentinel
 * failover by itself and runs in the compiled binary (Bun's own RedisClient has no Sentinel).
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import Redis, { type RedisOptions } from "ioredis";
import type { Config } from "../config/schema.ts";
import { ConfigError } from "../lib/errors.ts";

/** The `[cluster]` table, present. */
export type ClusterConfig = NonNullable<Config["cluster"]>;

/** The ioredis client type, for the modules of this room. */
export type { Redis };

/** What is wrong with `[cluster]` (undefined when nothing): names the key to fix. */
export function clusterProblem(c: ClusterConfig): string | undefined {
  if (!c.redis_url && !c.sentinels?.length) return "cluster: set redis_url, or sentinels and sentinel_name";
  if (c.renew_seconds * 2 > c.lease_seconds) return "cluster.renew_seconds must be at most half of lease_seconds, or a slow renewal loses the lease";
  if (c.safety_margin_seconds >= c.lease_seconds - c.renew_seconds) {
    return "cluster.safety_margin_seconds must be under lease_seconds - renew_seconds, or the leader never may send";
  }
  if (Boolean(c.tls_cert) !== Boolean(c.tls_key)) return "cluster.tls_cert and cluster.tls_key go together";
  return undefined;
}

/** This instance's name among its peers: `[cluster] instance`, or host name and process id. */
export function instanceName(c: ClusterConfig): string {
  return c.instance ?? `${hostname()}-${process.pid}`;
}

/**
 * ioredis options for `[cluster]`. Commands issued while Redis is unreachable fail at once
 * (no offline queue, one attempt): every caller has its own answer to an outage (503, spool,
 * step down) and must hear of it now, not after a reconnect.
 */
export function redisOptions(c: ClusterConfig, extraTimeoutMs = 0): RedisOptions {
  const problem = clusterProblem(c);
  if (problem) throw new ConfigError(problem);
  const url = c.redis_url ? new URL(c.redis_url) : undefined;
  const tlsWanted = c.tls || url?.protocol === "rediss:";
  const read = (file: string | undefined) => (file ? readFileSync(file) : undefined);
  const opts: RedisOptions = {
    username: c.username ?? (url?.username ? decodeURIComponent(url.username) : undefined),
    password: c.password ?? (url?.password ? decodeURIComponent(url.password) : undefined),
    db: url && url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    // A Redis that hangs (stopped, a stalled disk under appendfsync always) fails a command
    // after this long, as one that refuses does at once; a command that blocks by design
    // (XREADGROUP BLOCK, WAIT) gets its own time on top (`extraTimeoutMs`).
    commandTimeout: Math.round(c.command_timeout_seconds * 1000) + extraTimeoutMs,
    lazyConnect: true,
    // Reconnect soon and keep trying: a Redis restart must not need an st2bot restart.
    retryStrategy: (times) => Math.min(100 * times, 1000),
    tls: tlsWanted ? { ca: read(c.tls_ca), cert: read(c.tls_cert), key: read(c.tls_key) } : undefined,
  };
  if (c.sentinels?.length) {
    opts.sentinels = c.sentinels.map((s) => {
      const at = s.lastIndexOf(":");
      return { host: s.slice(0, at).replace(/^\[|\]$/g, ""), port: Number(s.slice(at + 1)) };
    });
    opts.name = c.sentinel_name;
    opts.sentinelPassword = c.sentinel_password;
    opts.sentinelRetryStrategy = (times) => Math.min(100 * times, 1000);
    if (tlsWanted) opts.enableTLSForSentinelMode = true;
  } else if (url) {
    opts.host = url.hostname.replace(/^\[|\]$/g, "");
    opts.port = url.port ? Number(url.port) : 6379;
  }
  return opts;
}

/**
 * A client for `[cluster]`, not yet connected (call `connect()`; it reconnects by itself);
 * `blocksMs`: how long its commands block by design (added to the command timeout).
 */
export function createRedis(c: ClusterConfig, blocksMs = 0): Redis {
  return new Redis(redisOptions(c, blocksMs));
}
