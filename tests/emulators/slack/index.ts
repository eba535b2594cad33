/**
 * A Slack workspace on loopback, answering on the wire the way Slack does, for driving the real
 * @slack/web-api and @slack/socket-mode clients in tests. The pieces:
 *
 * - web-api.ts: `POST <apiUrl><method>`, Slack's answers and error codes, injected 429s;
 *   `chat.update` replaces a bot message's text/attachments/blocks (omitted ones kept, an empty
 *   array removes them) and is echoed as `message_changed`.
 * - socket-mode.ts: one-time `ws://` tickets, `hello`, envelopes acked within 3 s or redelivered
 *   with `retry_attempt`, Slack's `disconnect` message.
 * - envelopes.ts: what people's messages and clicks look like as events; workspace.ts: people,
 *   conversations and lookups; wire.ts: fixtures, recorded shapes, argument decoding.
 *
 * This class is the test's handle: it starts the server and exposes the controls and records.
 */
import type { Server } from "bun";
import { type Click, clickEnvelope, eventEnvelope, type UserMessage, userMessageEvents } from "./envelopes.ts";
import { SocketMode } from "./socket-mode.ts";
import { WebApi } from "./web-api.ts";
import type { ApiCall, EphemeralMessage, Envelope, PostedMessage, SlackChannelFixture, SlackEmulatorOptions, SlackUserFixture, SocketData } from "./wire.ts";
import { Workspace } from "./workspace.ts";

export type { ApiCall, EphemeralMessage, PostedMessage, SlackChannelFixture, SlackEmulatorOptions, SlackUserFixture } from "./wire.ts";
export { defaultWorkspace } from "./wire.ts";

export class SlackEmulator {
  readonly botToken: string;
  readonly appToken: string;
  readonly bot: { id: string; name: string; botId: string };
  /** Every chat.postMessage the workspace accepted, in order. */
  readonly received: PostedMessage[];
  /** Every chat.postEphemeral the workspace accepted, in order. */
  readonly ephemerals: EphemeralMessage[];
  /** Every chat.update the workspace accepted, in order (the message as it became). */
  readonly edits: PostedMessage[];
  /** Every Web API call, answered or refused. */
  readonly calls: ApiCall[];
  /** Every envelope sent over Socket Mode (redeliveries included), in order. */
  readonly envelopes: Envelope[];
  /** Envelope ids acked by the client, in ack order. */
  readonly acks: string[];

  private server!: Server<SocketData>;
  private readonly workspace: Workspace;
  private readonly socket: SocketMode;
  private readonly api: WebApi;

  private constructor(opts: SlackEmulatorOptions) {
    this.botToken = opts.botToken ?? "xoxb-emulated-bot-token";
    this.appToken = opts.appToken ?? "xapp-1-emulated-app-token";
    this.workspace = new Workspace(opts);
    this.bot = this.workspace.bot;
    this.socket = new SocketMode(opts.ackTimeoutMs ?? 3000, () => this.workspace.next());
    this.api = new WebApi(
      this.workspace,
      {
        botToken: this.botToken,
        appToken: this.appToken,
        ticket: () => this.socket.ticket(this.server.port!),
        emit: (event) => void this.emitEvent(event),
        later: (ms, fn) => this.socket.later(ms, fn),
      },
      { echoBotMessages: opts.echoBotMessages ?? true, missingScopes: opts.missingScopes ?? [] },
    );
    ({ received: this.received, ephemerals: this.ephemerals, edits: this.edits, calls: this.calls } = this.api);
    ({ envelopes: this.envelopes, acks: this.acks } = this.socket);
  }

  /** Starts the emulator on 127.0.0.1 with a free port. */
  static start(opts: SlackEmulatorOptions = {}): SlackEmulator {
    const emu = new SlackEmulator(opts);
    emu.server = Bun.serve<SocketData>({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req, server) => emu.handleHttp(req, server),
      websocket: emu.socket.handlers,
    });
    return emu;
  }

  /** The Web API root to give as `slackApiUrl`. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.server.port}/api/`;
  }

  /** Number of WebSocket connections that completed the handshake. */
  get connectionsOpened(): number {
    return this.socket.connectionsOpened;
  }

  // ---- controls -------------------------------------------------------------------------------

  /**
   * A person posts in a channel (id or name), or in their DM with the bot when `channel` is
   * omitted. Emits the `message` event, and `app_mention` too when the text mentions the bot
   * outside a DM, exactly as Slack does for an app subscribed to both.
   */
  postUserMessage(msg: UserMessage): { ts: string; channel: string } {
    const { ts, channel, events } = userMessageEvents(this.workspace, msg);
    for (const event of events) this.emitEvent(event);
    return { ts, channel };
  }

  /** Emits any Events API event as an envelope (for event types the helpers do not cover). */
  emitEvent(event: Record<string, unknown>): string {
    const envelope = eventEnvelope(this.workspace, event);
    this.socket.deliver(envelope);
    return envelope.envelope_id;
  }

  /**
   * A person clicks a button (`value` given) or picks an option (`option` given: its value) of
   * a message the bot posted, as Slack does for an app with interactivity on: an `interactive`
   * envelope carrying a `block_actions` payload (the clicked element under `actions`, the
   * message as it is now under `message`, its place under `container`), to be acked like any
   * envelope. Throws when the message or the element does not exist or the user cannot see it.
   */
  click(c: Click): string {
    const envelope = clickEnvelope(this.workspace, this.received, c);
    this.socket.deliver(envelope);
    return envelope.envelope_id;
  }

  /** The next `count` calls of `method` answer 429 with `Retry-After: retryAfterSec`. */
  rateLimit(method: string, count: number, retryAfterSec: number): void {
    this.api.rateLimits.set(method, { count, retryAfterSec });
  }

  /** Every Web API answer is delayed by `ms` (0 turns it off). */
  slow(ms: number): void {
    this.api.delayMs = ms;
  }

  /**
   * Sends Slack's `disconnect` message (`refresh_requested`, `warning`, `link_disabled`) on every
   * open socket and closes them after `closeAfterMs` if the client has not closed them first.
   */
  disconnect(reason: "refresh_requested" | "warning" | "link_disabled", closeAfterMs = reason === "warning" ? 3000 : 1000): void {
    this.socket.disconnect(reason, closeAfterMs);
  }

  /** Cuts every socket without a close frame, like a server crash or a network drop. */
  dropSockets(): void {
    this.socket.dropSockets();
  }

  /** Open, non-draining sockets. */
  get openSockets(): number {
    return this.socket.openSockets;
  }

  /**
   * Waits (up to `ms`) until nothing is awaiting an ack or a socket, then returns the envelope
   * ids never acked. Use at teardown: an envelope in flight when a socket died is redelivered.
   */
  settledAcks(ms = 5000): Promise<string[]> {
    return this.socket.settledAcks(ms);
  }

  /** Envelope ids never acked (pending beyond the deadline or not yet delivered). */
  missingAcks(): string[] {
    return this.socket.missingAcks();
  }

  /** Envelope ids acked only after Slack's deadline (Slack would have redelivered them). */
  lateAckIds(): string[] {
    return this.socket.lateAckIds();
  }

  /** Adds a user or channel to the workspace while running. */
  addUser(user: SlackUserFixture): void {
    this.workspace.users.set(user.id, user);
  }
  addChannel(channel: SlackChannelFixture): void {
    this.workspace.addChannel(channel);
  }

  /** The DM conversation id between `user` and the bot, creating it like conversations.open. */
  imFor(user: string): string {
    return this.workspace.openIm(user).id;
  }

  async stop(): Promise<void> {
    this.socket.stop();
    await this.server.stop(true);
  }

  private async handleHttp(req: Request, server: Server<SocketData>): Promise<Response | undefined> {
    const url = new URL(req.url);
    if (url.pathname === "/link/") return this.socket.upgrade(req, url, server);
    const match = /^\/api\/([\w.]+)$/.exec(url.pathname);
    if (!match) return new Response("Not Found", { status: 404 });
    return this.api.handle(req, url, match[1]!);
  }
}
