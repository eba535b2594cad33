/**
 * The Socket Mode connection as a driver of the shared ReconnectingLink (../link.ts): one
 * attempt is the backend's preparation, then a Socket Mode link up to Slack's `hello`. The
 * SDK's own reconnect is off, so the link's loop is the only one.
 */
import type { SocketModeClient } from "@slack/socket-mode";
import { ConfigError, describeError } from "../../lib/errors.ts";
import { withTimeout } from "../../lib/timeout.ts";
import type { LinkDriver } from "../link.ts";
import { isAuthFailure, toSendError } from "./errors.ts";

/** What one attempt runs besides opening the socket. */
export interface SocketModeOptions {
  /** From `apps.connections.open` to Slack's `hello`; a silent link is replaced. */
  connectTimeoutMs: number;
  /** Runs before each attempt (the backend learns who it is here); its failure fails the attempt. */
  beforeConnect: () => Promise<void>;
}

/** Connects and closes `socket`; a token Slack refuses is a ConfigError (start fails with it). */
export function socketModeDriver(socket: SocketModeClient, opts: SocketModeOptions): LinkDriver {
  const close = () => timed(socket.disconnect(), 3000).catch(() => undefined);
  return {
    async connect() {
      try {
        await opts.beforeConnect();
        try {
          await timed(socket.start(), opts.connectTimeoutMs);
        } catch (err) {
          await close();
          throw toSendError("apps.connections.open", err);
        }
      } catch (err) {
        if (!isAuthFailure(err)) throw err;
        throw new ConfigError(`Slack refused the configured token (${describeError(err)}); check slack.bot_token and slack.app_token`);
      }
    },
    close,
  };
}

function timed<T>(p: Promise<T>, ms: number): Promise<T> {
  return withTimeout(p, ms, () => new Error(`no answer within ${ms} ms`));
}
