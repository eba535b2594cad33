/**
 * Moving over from st2chatops unchanged: the URLs of `st2chatops.env` (`https://host/api`,
 * `/auth`, `/stream`, no `/v1`) and hubot's direct-port form (`http://127.0.0.1:9101`) work
 * end to end — aliases load, a command runs, and its result arrives through the stream.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Server } from "bun";
import { startApp, type App } from "../../src/app.ts";
import { MemoryBackend } from "../../src/chat/memory.ts";
import { derivedUrls, parseConfig } from "../../src/config/load.ts";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { API_KEY } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";
import { assertNoViolations, startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import { tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();

let emulator: TestEmulator;
let dir: string;
beforeAll(async () => {
  emulator = await startTestEmulator({ aliases: sampleAliases, actions: sampleActions, apiKeys: [API_KEY], completionDelayMs: 5 });
  dir = tmp("urls");
});
afterAll(async () => {
  assertNoViolations(emulator);
  await emulator.stop();
});

/**
 * Runs `body` with an st2bot configured only by environment variables for StackStorm, as
 * st2chatops.env gives them, and stops it however `body` ends.
 */
async function withBotFromEnv(env: Record<string, string>, sub: string, body: (app: App, backend: MemoryBackend) => Promise<void>): Promise<void> {
  const dataDir = join(dir, sub);
  const config = parseConfig(`[bot]\ndata_dir = ${JSON.stringify(dataDir)}\nlog_level = "error"\n[web]\nenabled = false\n`, "<test>", { ...env, ST2_API_KEY: API_KEY });
  const backend = new MemoryBackend();
  const app = await startApp({ config, backend });
  try {
    await body(app, backend);
  } finally {
    await app.stop();
  }
}

/** Runs one command and waits for its ack and its streamed result in #ops. */
async function roundTrip(app: App, backend: MemoryBackend): Promise<void> {
  await waitFor("stream open", () => app.streamState().state === "open");
  expect(app.aliases.index.size).toBe(sampleAliases.length);
  const before = emulator.executions.length;
  await backend.receive({ text: "!st2 run uptime on web1", user: "alice", roomName: "ops" });
  expect(emulator.executions.length).toBe(before + 1);
  const id = emulator.executions.at(-1)!.id;
  await waitFor("ack", () => backend.sent.find((m) => m.text.startsWith("Running `uptime` on web1")));
  const result = await waitFor("result from the stream", () => backend.sent.find((m) => m.text.includes("completed") && m.text.includes(id)));
  expect(result.target).toMatchObject({ kind: "room", id: "ops" });
}

describe("st2chatops URLs", () => {
  test("ST2_API_URL=…/api, ST2_AUTH_URL=…/auth, ST2_STREAM_URL=…/stream: a command runs and its result arrives", async () => {
    const env = { ST2_API_URL: `${emulator.url}/api`, ST2_AUTH_URL: `${emulator.url}/auth`, ST2_STREAM_URL: `${emulator.url}/stream` };
    await withBotFromEnv(env, "prefixed", async (app, backend) => {
      expect(app.config.stackstorm.api_url).toBe(emulator.apiUrl);
      expect(app.config.stackstorm.stream_url).toBe(emulator.streamUrl);
      expect(derivedUrls(app.config).map((d) => d.key)).toEqual(["api_url", "auth_url", "stream_url"]);
      await roundTrip(app, backend);
      // Nothing went to the unversioned paths that 404 on a real StackStorm.
      expect(emulator.requests.filter((r) => r.status === 404)).toEqual([]);
    });
  });

  test("the same with trailing slashes, and err-stackstorm's …/api/v1 left as it is", async () => {
    const env = { ST2_API_URL: `${emulator.url}/api/v1`, ST2_AUTH_URL: `${emulator.url}/auth/`, ST2_STREAM_URL: `${emulator.url}/stream/v1/` };
    await withBotFromEnv(env, "mixed", async (app, backend) => {
      expect(derivedUrls(app.config)).toEqual([{ key: "auth_url", given: `${emulator.url}/auth/`, used: emulator.authUrl }]);
      await roundTrip(app, backend);
    });
  });

  test("hubot's direct-port form http://127.0.0.1:9101 (no prefix) becomes …:9101/v1", async () => {
    // st2api, st2auth and st2stream each serve /v1/... on their own port, as without nginx.
    const direct = (prefix: string): Server<undefined> =>
      Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        idleTimeout: 0,
        fetch: (req) => {
          const u = new URL(req.url);
          if (!u.pathname.startsWith("/v1/")) return new Response("not found", { status: 404 });
          const body = req.method === "GET" || req.method === "HEAD" ? undefined : req.body;
          return fetch(`${emulator.url}${prefix}${u.pathname}${u.search}`, { method: req.method, headers: req.headers, body });
        },
      });
    const servers = [direct("/api"), direct("/auth"), direct("/stream")];
    const [api, auth, stream] = servers.map((s) => `http://127.0.0.1:${s.port}`) as [string, string, string];
    try {
      await withBotFromEnv({ ST2_API_URL: api, ST2_AUTH_URL: auth, ST2_STREAM_URL: stream }, "direct", async (app, backend) => {
        expect(app.config.stackstorm.api_url).toBe(`${api}/v1`);
        await roundTrip(app, backend);
      });
    } finally {
      for (const s of servers) s.stop(true);
    }
  });
});
