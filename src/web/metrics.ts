/**
 * `GET /metrics` in Prometheus' text format: delivery, StackStorm and chat state, so an
 * operator can alert on undeliverable messages or a dropped stream.
 */
import { Elysia } from "elysia";
import type { ClusterState, StatusSource } from "../bot/status.ts";

/**
 * `GET /metrics`, unauthenticated like `/health`: it carries counts only, nothing secret.
 * The figures are `!status`'s, read afresh on every scrape.
 */
export function metricsPlugin(source: StatusSource) {
  return new Elysia({ name: "st2bot.metrics" }).get("/metrics", () => {
    const o = source.outbox();
    const metric = (name: string, help: string, value: number, type = "gauge") => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`;
    const body = [
      metric("st2bot_outbox_pending", "Messages accepted and waiting for delivery.", o.pending),
      metric("st2bot_outbox_dead", "Messages that could not be delivered (see !st2outbox).", o.dead),
      metric("st2bot_outbox_delivered_total", "Messages delivered since start.", o.delivered, "counter"),
      metric("st2bot_outbox_failed_attempts_total", "Failed send attempts since start.", o.failedAttempts, "counter"),
      metric("st2bot_aliases", "Action aliases in the cache.", source.aliases()),
      metric("st2bot_stream_up", "1 while the StackStorm stream is connected.", source.stream().state === "open" ? 1 : 0),
      metric("st2bot_chat_up", "1 while the chat backend is connected.", source.chat().state === "connected" ? 1 : 0),
      metric("st2bot_stackstorm_auth_ok", "0 while StackStorm refuses st2bot's credential.", source.st2().state === "failing" ? 0 : 1),
      metric("st2bot_start_time_seconds", "When st2bot started (Unix time).", Math.floor(source.startedAt / 1000)),
      ...(source.cluster ? clusterMetrics(source.cluster(), metric) : []),
    ].join("");
    return new Response(body, { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
  });
}

/** Cluster mode: role, fencing number, peers, lease age, Redis reachability, spool. */
function clusterMetrics(c: ClusterState, metric: (name: string, help: string, value: number) => string): string[] {
  return [
    metric("st2bot_cluster_leader", "1 while this instance holds the lease and speaks to chat.", c.role === "leader" ? 1 : 0),
    metric("st2bot_cluster_fence", "The fencing number of this instance's (last) lease.", c.fence),
    metric("st2bot_cluster_peers", "Instances seen alive within three leases.", c.peers ?? 0),
    metric("st2bot_cluster_lease_age_seconds", "Since Redis last confirmed the lease (leader only; 0 otherwise).", (c.leaseAgeMs ?? 0) / 1000),
    metric("st2bot_cluster_redis_up", "0 while Redis does not answer.", c.redisDown ? 0 : 1),
    metric("st2bot_cluster_spooled", "Stream announcements spooled locally while Redis was unreachable.", c.spooled),
  ];
}
