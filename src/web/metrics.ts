/**
 * `GET /metrics` in Prometheus' text format: delivery, StackStorm and chat state, so an
 * operator can alert on undeliverable messages or a dropped stream.
 */
import { Elysia } from "elysia";

export interface MetricsSource {
  outbox(): { pending: number; dead: number; delivered: number; failedAttempts: number };
  aliases(): number;
  /** 1 when connected. */
  streamUp(): boolean;
  chatUp(): boolean;
  st2AuthOk(): boolean;
  startedAt: number;
}

export function metricsPlugin(source: MetricsSource) {
  return new Elysia({ name: "st2bot.metrics" }).get("/metrics", () => {
    const o = source.outbox();
    const gauge = (name: string, help: string, value: number, type = "gauge") => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`;
    const body = [
      gauge("st2bot_outbox_pending", "Messages accepted and waiting for delivery.", o.pending),
      gauge("st2bot_outbox_dead", "Messages that could not be delivered (see !st2outbox).", o.dead),
      gauge("st2bot_outbox_delivered_total", "Messages delivered since start.", o.delivered, "counter"),
      gauge("st2bot_outbox_failed_attempts_total", "Failed send attempts since start.", o.failedAttempts, "counter"),
      gauge("st2bot_aliases", "Action aliases in the cache.", source.aliases()),
      gauge("st2bot_stream_up", "1 while the StackStorm stream is connected.", source.streamUp() ? 1 : 0),
      gauge("st2bot_chat_up", "1 while the chat backend is connected.", source.chatUp() ? 1 : 0),
      gauge("st2bot_stackstorm_auth_ok", "0 while StackStorm refuses st2bot's credential.", source.st2AuthOk() ? 1 : 0),
      gauge("st2bot_start_time_seconds", "When st2bot started (Unix time).", Math.floor(source.startedAt / 1000)),
    ].join("");
    return new Response(body, { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
  });
}
