/**
 * The event WebSocket, through @mattermost/client's WebSocketClient, with its own retries parked:
 * the backend's ReconnectingLink reconnects instead. Opening resolves on the server's `hello`; a
 * socket that closes first, or stays silent past the deadline, fails the attempt.
 */
import { WebSocketClient } from "@mattermost/client";
import { logger } from "../../lib/log.ts";
import { quietHandlers, withConsoleTo } from "../../lib/console.ts";

const log = logger("chat.mattermost");

/** A day: the library's retry timer is armed this far away, so in practice never fires. */
const PARKED_MS = 86_400_000;

export interface EventSocketOptions {
  /** WebSocket factory (default: the global WebSocket). */
  newWebSocket?: (url: string) => WebSocket;
  /** WebSocketClient's liveness ping. */
  pingIntervalMs: number;
  /** From socket open to the server's `hello`. */
  helloTimeoutMs: number;
  /** Every frame the server sends, unparsed. */
  onEvent: (raw: unknown) => void;
  /** A socket that had said `hello` closed while not stopped. */
  onDrop: () => void;
}

export class EventSocket {
  private ws?: WebSocketClient;
  private socket?: WebSocket;
  private helloTimer?: ReturnType<typeof setTimeout>;
  private stopped = false;
  /** The open attempt waiting for `hello`. */
  private opening?: { resolve: () => void; reject: (err: Error) => void };

  constructor(private readonly opts: EventSocketOptions) {}

  /**
   * (Re)opens the socket on `url`, authenticated by `token`; resolves once the server says
   * `hello` (the backend calls `greeted`), rejects when the socket closes or stays silent first.
   */
  open(url: string, token: string): Promise<void> {
    this.stopped = false;
    this.ws ??= this.newClient();
    // The library's console chatter (connecting, closed, whole error events) goes to our debug log.
    withConsoleTo(log, () => this.ws!.close()); // clears a pending library retry: reconnects follow our Backoff, not its own
    const hello = new Promise<void>((resolve, reject) => (this.opening = { resolve, reject }));
    withConsoleTo(log, () => this.ws!.initialize(url, token));
    clearTimeout(this.helloTimer);
    this.helloTimer = setTimeout(() => {
      this.settle(new Error(`no hello from Mattermost within ${this.opts.helloTimeoutMs} ms`));
      this.socket?.close();
    }, this.opts.helloTimeoutMs);
    return hello;
  }

  /** The server said `hello`: the socket is live. */
  greeted(): void {
    clearTimeout(this.helloTimer);
    this.settle();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.helloTimer);
    this.settle(new Error("stopped"));
    withConsoleTo(log, () => this.ws?.close());
    this.socket?.close();
  }

  private newClient(): WebSocketClient {
    const make = this.opts.newWebSocket ?? ((url: string) => new WebSocket(url));
    const ws = new WebSocketClient({
      newWebSocketFn: (url) => (this.socket = quietHandlers(make(url), log)),
      clientPingInterval: this.opts.pingIntervalMs,
      minWebSocketRetryTime: PARKED_MS,
      maxWebSocketRetryTime: PARKED_MS,
      reconnectJitterRange: 0,
    });
    ws.addMessageListener((event) => this.opts.onEvent(event));
    ws.addCloseListener(() => this.onClose());
    // A new server session restarts the event sequence; without a listener the client loops.
    ws.addMissedMessageListener(() => log.warn("Mattermost started a new event session; posts sent while disconnected were missed"));
    return ws;
  }

  /** Ends the pending `open`, if any: resolved without `err`, rejected with it. */
  private settle(err?: Error): void {
    const opening = this.opening;
    this.opening = undefined;
    if (err) opening?.reject(err);
    else opening?.resolve();
  }

  private onClose(): void {
    clearTimeout(this.helloTimer);
    if (this.opening) return this.settle(new Error("the event socket closed before hello"));
    if (this.stopped) {
      // The library arms its own (parked) retry timer right after this listener; disarm it so
      // a stopped backend holds no timers and the process can exit.
      setTimeout(() => withConsoleTo(log, () => this.ws?.close()), 0);
      return;
    }
    this.opts.onDrop();
  }
}
