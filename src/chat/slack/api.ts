/**
 * The two Slack SDK clients, configured the one way st2bot uses them, and the single Web API
 * call every other Slack module goes through.
 */
import { SocketModeClient } from "@slack/socket-mode";
import { type Logger as SlackLogger, LogLevel, WebClient } from "@slack/web-api";
import * as v from "valibot";
import { SendError } from "../../lib/errors.ts";
import { logger } from "../../lib/log.ts";
import { toSendError } from "./errors.ts";

/** One Web API call whose answer is validated against `schema`; failures are SendError. */
export type Call = <T>(method: string, args: Record<string, unknown>, schema: v.GenericSchema<unknown, T>) => Promise<T>;

export interface SlackClients {
  socket: SocketModeClient;
  call: Call;
}

/**
 * A Web API client on the bot token and a Socket Mode client on the app token. Neither retries,
 * sleeps on rate limits or reconnects by itself: a failure surfaces at once as a SendError and
 * the outbox (or the backend's reconnect loop) decides when to try again.
 */
export function createSlackClients(tokens: { botToken: string; appToken: string; apiUrl: string }, timeoutMs: number): SlackClients {
  const common = { slackApiUrl: tokens.apiUrl, timeout: timeoutMs, rejectRateLimitedCalls: true, retryConfig: { retries: 0 } };
  const web = new WebClient(tokens.botToken, { ...common, logger: sdkLogger("chat.slack.web") });
  const socket = new SocketModeClient({
    appToken: tokens.appToken,
    autoReconnectEnabled: false,
    logger: sdkLogger("chat.slack.socket"),
    clientOptions: common,
  });
  const call: Call = async (method, args, schema) => {
    let result: unknown;
    try {
      result = await web.apiCall(method, args);
    } catch (err) {
      throw toSendError(method, err);
    }
    const parsed = v.safeParse(schema, result);
    if (!parsed.success) throw new SendError(`Slack ${method} answered in an unexpected shape`, true);
    return parsed.output;
  };
  return { socket, call };
}

/** The SDKs log through ours (debug), so their lines carry our redaction and component. */
function sdkLogger(name: string): SlackLogger {
  const l = logger(name);
  let level = LogLevel.DEBUG;
  const line = (msg: unknown[]) => msg.map((m) => (typeof m === "string" ? m : m instanceof Error ? m.message : JSON.stringify(m))).join(" ");
  const debug = (...m: unknown[]) => l.debug(line(m));
  return {
    debug,
    info: debug,
    warn: debug,
    error: debug,
    setLevel: (x: LogLevel) => {
      level = x;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
