/**
 * A start that fails leaves nothing behind (the port is free, the backend stopped), and a
 * mistyped ST2BOT_LOG_LEVEL is refused instead of silencing every log line.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startApp } from "../../src/app.ts";
import { MemoryBackend } from "../../src/chat/memory.ts";
import type { MessageHandler } from "../../src/chat/types.ts";
import { parseConfig } from "../../src/config/load.ts";
import { ConfigError } from "../../src/lib/errors.ts";
import { API_KEY } from "../support/bot.ts";
import { startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import { tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();

let emulator: TestEmulator;
let dir: string;
beforeAll(async () => {
  emulator = await startTestEmulator({ apiKeys: [API_KEY] });
  dir = tmp("startup");
});
afterAll(async () => {
  await emulator.stop();
});

/** A chat service that refuses the bot's credentials, as Slack does with a revoked token. */
class RefusingBackend extends MemoryBackend {
  override async start(_onMessage: MessageHandler): Promise<void> {
    throw new ConfigError("the chat service refused the token");
  }
}

function freePort(): number {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

test("a chat service that refuses the credentials: the error comes out and everything started is stopped", async () => {
  const port = freePort();
  const config = parseConfig(
    `[bot]\ndata_dir = ${JSON.stringify(dir)}\nlog_level = "error"\n[web]\nport = ${port}\n` +
      `[stackstorm]\napi_url = "${emulator.apiUrl}"\nauth_url = "${emulator.authUrl}"\nstream_url = "${emulator.streamUrl}"\n` +
      `[stackstorm.api_auth]\napikey = "${API_KEY}"\n`,
    "<t>",
    {},
  );
  const backend = new RefusingBackend();
  await expect(startApp({ config, backend })).rejects.toThrow("the chat service refused the token");
  expect(backend.status().state).toBe("stopped");
  // The web server let go of its port: a restart (or anything else) may bind it again.
  const again = Bun.serve({ hostname: "127.0.0.1", port, fetch: () => new Response() });
  again.stop(true);
});

test("a mistyped ST2BOT_LOG_LEVEL is a configuration error naming the allowed levels", () => {
  // Checked where the config is loaded (one of its environment overrides), before anything starts.
  const load = () => parseConfig(`[bot]\ndata_dir = ${JSON.stringify(dir)}\n`, "<t>", { ST2BOT_LOG_LEVEL: "verbose" });
  expect(load).toThrow(ConfigError);
  expect(load).toThrow('ST2BOT_LOG_LEVEL: "verbose" is not a log level; use debug, info, warn or error');
});
