/**
 * The Slack emulator's Socket Mode side: single-use connection tickets, `hello` on connect,
 * envelopes that must be acked by `envelope_id` within the deadline (redelivered with
 * `retry_attempt` otherwise, or when their socket dies, as Slack does), and Slack's
 * `disconnect` message. What the envelopes carry is built in envelopes.ts.
 */
import type { Server } from "bun";
import { APP_ID, type Envelope, type SocketData, type Ws } from "./wire.ts";

/** The Socket Mode links of one emulated app, and what went over them. */
export class SocketMode {
  /** Every envelope sent (redeliveries included), in order. */
  readonly envelopes: Envelope[] = [];
  /** Envelope ids acked by the client, in ack order. */
  readonly acks: string[] = [];
  /** Number of WebSocket connections that completed the handshake. */
  connectionsOpened = 0;

  private readonly sockets = new Set<Ws>();
  private readonly tickets = new Set<string>();
  private readonly pendingAcks = new Map<string, { sentAt: number; timer: Timer; envelope: Envelope; socket: number }>();
  private readonly lateAcks: string[] = [];
  private readonly undelivered: Envelope[] = [];
  private readonly timers = new Set<Timer>();

  constructor(private readonly ackTimeoutMs: number, private readonly nextId: () => number) {}

  /** `apps.connections.open`: a one-time `ws://` URL on `port`. */
  ticket(port: number): string {
    const ticket = crypto.randomUUID();
    this.tickets.add(ticket);
    return `ws://127.0.0.1:${port}/link/?ticket=${ticket}&app_id=${APP_ID}`;
  }

  /** Upgrades a request to `/link/` that brings an unused ticket. */
  upgrade(req: Request, url: URL, server: Server<SocketData>): Response | undefined {
    const ticket = url.searchParams.get("ticket") ?? "";
    // Slack's links are single-use: a replayed ticket is refused.
    if (!this.tickets.delete(ticket)) return new Response("invalid ticket", { status: 401 });
    if (server.upgrade(req, { data: { id: this.nextId(), ticket, draining: false } })) return undefined;
    return new Response("expected a WebSocket upgrade", { status: 400 });
  }

  /** The `websocket` handlers for Bun.serve. */
  readonly handlers = {
    open: (ws: Ws) => this.onOpen(ws),
    message: (_ws: Ws, data: string | Buffer) => this.onMessage(data),
    close: (ws: Ws) => this.gone(ws),
  };

  /** Sends `envelope` on the newest open socket, or keeps it for the next one. */
  deliver(envelope: Envelope): void {
    const ws = [...this.sockets].reverse().find((s) => !s.data.draining);
    if (!ws) {
      this.undelivered.push(envelope);
      return;
    }
    this.envelopes.push(envelope);
    ws.send(JSON.stringify(envelope));
    const timer = setTimeout(() => this.ackMissed(envelope), this.ackTimeoutMs);
    this.pendingAcks.set(envelope.envelope_id, { sentAt: Date.now(), timer, envelope, socket: ws.data.id });
  }

  /** See SlackEmulator.disconnect. */
  disconnect(reason: string, closeAfterMs: number): void {
    for (const ws of this.sockets) {
      ws.data.draining = true;
      ws.send(JSON.stringify({ type: "disconnect", reason, debug_info: { host: "applink-emulated" } }));
      this.later(closeAfterMs, () => {
        if (this.sockets.has(ws)) ws.close(1000, "disconnect");
      });
    }
  }

  /** Cuts every socket without a close frame, like a server crash or a network drop. */
  dropSockets(): void {
    for (const ws of [...this.sockets]) {
      ws.terminate();
      this.gone(ws);
    }
  }

  /** Open, non-draining sockets. */
  get openSockets(): number {
    return [...this.sockets].filter((ws) => !ws.data.draining).length;
  }

  /** Waits (up to `ms`) until nothing awaits an ack or a socket, then returns the ids never acked. */
  async settledAcks(ms: number): Promise<string[]> {
    const deadline = Date.now() + ms;
    while ((this.pendingAcks.size > 0 || this.undelivered.length > 0) && Date.now() < deadline) await Bun.sleep(20);
    return this.missingAcks();
  }

  /** Envelope ids never acked (pending beyond the deadline or not yet delivered). */
  missingAcks(): string[] {
    const acked = new Set(this.acks);
    return [...new Set(this.envelopes.map((e) => e.envelope_id))].filter((id) => !acked.has(id));
  }

  /** Envelope ids acked only after Slack's deadline (Slack would have redelivered them). */
  lateAckIds(): string[] {
    return [...this.lateAcks];
  }

  /** Runs `fn` after `ms` unless `stop` comes first. */
  later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  /** Clears every timer and cuts every socket. */
  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    for (const p of this.pendingAcks.values()) clearTimeout(p.timer);
    this.timers.clear();
    this.pendingAcks.clear();
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
  }

  private onOpen(ws: Ws): void {
    this.sockets.add(ws);
    this.connectionsOpened++;
    ws.send(JSON.stringify({
      type: "hello",
      num_connections: this.sockets.size,
      debug_info: { host: "applink-emulated", build_number: 1, approximate_connection_time: 18060 },
      connection_info: { app_id: APP_ID },
    }));
    // Events that found no socket wait for the next one, as Slack retries delivery.
    for (const envelope of this.undelivered.splice(0)) this.deliver(envelope);
  }

  private onMessage(data: string | Buffer): void {
    let msg: { envelope_id?: unknown };
    try {
      msg = JSON.parse(String(data)) as { envelope_id?: unknown };
    } catch {
      return;
    }
    if (typeof msg.envelope_id !== "string") return;
    const pending = this.pendingAcks.get(msg.envelope_id);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.pendingAcks.delete(msg.envelope_id);
    if (Date.now() - pending.sentAt > this.ackTimeoutMs) this.lateAcks.push(msg.envelope_id);
    this.acks.push(msg.envelope_id);
  }

  /** A socket closed or died: what it had not acked goes out again, as Slack redelivers. */
  private gone(ws: Ws): void {
    if (!this.sockets.delete(ws)) return;
    for (const [id, p] of this.pendingAcks) {
      if (p.socket !== ws.data.id) continue;
      clearTimeout(p.timer);
      this.pendingAcks.delete(id);
      this.deliver({ ...p.envelope, retry_attempt: p.envelope.retry_attempt + 1, retry_reason: "timeout" });
    }
  }

  /** No ack in time: Slack redelivers (up to 3 retries) with the reason. */
  private ackMissed(envelope: Envelope): void {
    this.pendingAcks.delete(envelope.envelope_id);
    if (envelope.retry_attempt >= 3) return;
    this.deliver({ ...envelope, retry_attempt: envelope.retry_attempt + 1, retry_reason: "timeout" });
  }
}
