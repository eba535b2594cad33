import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { assertNoViolations, startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import { parseConfig } from "../../src/config/load.ts";
import { ConfigError } from "../../src/lib/errors.ts";
import { St2Client } from "../../src/st2/client.ts";
import { ApiKeyProvider, PasswordProvider, TokenProvider } from "../../src/st2/credentials.ts";
import { St2ApiError, St2Http } from "../../src/st2/http.ts";
import { captureLogs, fakeServer, jsonResponse, type Seen } from "./helpers.ts";
import { waitFor } from "../support/wait.ts";

const PASSWORD = "client-test-Passw0rd";
const API_KEY = "client-test-apikey-0001";

/**
 * A small StackStorm: tokens for bot/PASSWORD, one valid API key, a revocable set of valid
 * tokens, 250 aliases served with StackStorm's 100-per-page cap, and error routes.
 */
function miniSt2() {
  const valid = new Set<string>([API_KEY]);
  let issued = 0;
  const paging = { cap: 100, sendTotal: true };
  const aliases = Array.from({ length: 250 }, (_, i) => ({
    id: `id${i}`,
    name: `alias_${i}`,
    pack: "demo",
    ref: `demo.alias_${i}`,
    action_ref: "core.local",
    formats: [`run ${i}`],
    enabled: true,
  }));
  const authed = (s: Seen) => valid.has(s.headers.get("X-Auth-Token") ?? "") || valid.has(s.headers.get("St2-Api-Key") ?? "");
  const fake = fakeServer((_req, s) => {
    if (s.path === "/auth/v1/tokens" && s.method === "POST") {
      if (s.headers.get("Authorization") !== `Basic ${btoa(`bot:${PASSWORD}`)}`) return jsonResponse(401, { faultstring: "Invalid or missing credentials" });
      const token = `minist2-token-${++issued}-xxxx`;
      valid.add(token);
      const ttl = (s.body as { ttl?: number } | undefined)?.ttl ?? 86400;
      return jsonResponse(201, { user: "bot", token, expiry: new Date(Date.now() + ttl * 1000).toISOString(), id: "t", metadata: {} });
    }
    if (!authed(s)) return jsonResponse(401, { faultstring: "Unauthorized - Invalid or missing credentials" });
    const route = `${s.method} ${s.path}`;
    switch (route) {
      case "GET /api/v1/actionalias": {
        const limit = Math.min(Number(s.query.get("limit") ?? 100), paging.cap);
        const offset = Number(s.query.get("offset") ?? 0);
        const headers: Record<string, string> = paging.sendTotal ? { "X-Total-Count": String(aliases.length), "X-Limit": String(limit) } : {};
        return jsonResponse(200, aliases.slice(offset, offset + limit), headers);
      }
      case "GET /api/v1/user":
        return jsonResponse(200, { username: "bot", authentication: { method: "api-key" } });
      case "POST /api/v1/aliasexecution":
        return jsonResponse(201, {
          execution: { id: "exec1", status: "requested", web_url: "https://st2/#/history/exec1/general" },
          actionalias: { name: "alias_1", ack: { append_url: false } },
          message: "ack!",
        });
      case "POST /api/v1/aliasexecution/match_and_execute":
        return jsonResponse(201, { results: [{ execution: { id: "e1" } }, { execution: { id: "e2" } }] });
      case "GET /api/v1/actionalias/help":
        return jsonResponse(200, { available: 7, helpstrings: [{ pack: "demo", display: "run 1", description: "d" }] });
      case "POST /auth/v1/tokens/validate":
        return jsonResponse(200, { valid: valid.has((s.body as { token: string }).token) });
      case "GET /api/v1/inquiries":
        return jsonResponse(200, [{ id: "inq1", route: "errbot", ttl: 1440, users: [], roles: [], schema: { type: "object" } }]);
      case "PUT /api/v1/inquiries/inq1":
        return jsonResponse(200, s.body);
      case "GET /api/v1/executions/exec1":
        return jsonResponse(200, { id: "exec1", status: "succeeded", action: { ref: "core.local" }, result: { stdout: "hi" } });
      case "GET /api/v1/executions/shape":
        return jsonResponse(200, { status: "succeeded" });
    }
    const code = /^\/api\/v1\/executions\/fail(\d+)$/.exec(s.path);
    if (code) return jsonResponse(Number(code[1]), { faultstring: `StackStorm says ${code[1]}` });
    return jsonResponse(404, { faultstring: "The resource could not be found." });
  });
  return { ...fake, valid, aliases, paging, issued: () => issued };
}

const st2 = miniSt2();
afterAll(() => st2.stop());
let logs = captureLogs();
afterEach(() => {
  logs.restore();
  logs = captureLogs();
  st2.seen.length = 0;
});

const http = new St2Http({ timeoutMs: 5_000 });
const clientWith = (provider: ConstructorParameters<typeof St2Client>[0]["provider"]) => new St2Client({ http, urls: st2.urls, provider });
const configFor = (auth: string) =>
  parseConfig(
    `[stackstorm]\napi_url = "${st2.urls.api}"\nauth_url = "${st2.urls.auth}"\nstream_url = "${st2.urls.stream}"\nuser_token_ttl = 600\n${auth}`,
    "test.toml",
  );

describe("St2Client", () => {
  test("listAliases pages through all 250 aliases in 3 requests of 100", async () => {
    const client = clientWith(new ApiKeyProvider(API_KEY));
    const all = await client.listAliases();
    expect(all.map((a) => a.name)).toEqual(st2.aliases.map((a) => a.name));
    const pages = st2.seen.filter((s) => s.path === "/api/v1/actionalias");
    expect(pages.map((p) => [p.query.get("limit"), p.query.get("offset")])).toEqual([
      ["100", "0"],
      ["100", "100"],
      ["100", "200"],
    ]);
  });

  test("a server capping pages lower is still read to the end by X-Total-Count", async () => {
    st2.paging.cap = 60;
    try {
      const all = await clientWith(new ApiKeyProvider(API_KEY)).listAliases();
      expect(all).toHaveLength(250);
      const offsets = st2.seen.filter((s) => s.path === "/api/v1/actionalias").map((p) => p.query.get("offset"));
      expect(offsets).toEqual(["0", "60", "120", "180", "240"]);
    } finally {
      st2.paging.cap = 100;
    }
  });

  test("without X-Total-Count a short page is the last", async () => {
    st2.paging.sendTotal = false;
    try {
      expect(await clientWith(new ApiKeyProvider(API_KEY)).listAliases()).toHaveLength(250);
      expect(st2.seen.filter((s) => s.path === "/api/v1/actionalias")).toHaveLength(3);
    } finally {
      st2.paging.sendTotal = true;
    }
  });

  test("executeAlias sends exactly the allowed keys and nothing undefined", async () => {
    const client = clientWith(new ApiKeyProvider(API_KEY));
    const res = await client.executeAlias({
      name: "alias_1",
      format: "run {{n}}",
      command: "run 1",
      source_channel: "#ops",
      user: "alice",
      source_context: { thread: "t1" },
      notification_route: "errbot",
      notification_channel: undefined,
      ...({ bogus: "dropped" } as object),
    });
    expect(res.execution.id).toBe("exec1");
    expect(res.message).toBe("ack!");
    expect(res.actionalias?.ack?.append_url).toBe(false);
    expect(st2.seen.at(-1)!.body).toEqual({
      name: "alias_1",
      format: "run {{n}}",
      command: "run 1",
      source_channel: "#ops",
      user: "alice",
      source_context: { thread: "t1" },
      notification_route: "errbot",
    });
  });

  test("the other calls reach the right endpoints and parse their answers", async () => {
    const client = clientWith(new ApiKeyProvider(API_KEY));
    expect((await client.matchAndExecute({ command: "run 1", source_channel: "#ops", user: "alice" })).results.map((r) => r.execution.id)).toEqual(["e1", "e2"]);
    const help = await client.aliasHelp({ pack: "demo", filter: "run", limit: 10, offset: 0 });
    expect(help.available).toBe(7);
    expect(st2.seen.at(-1)!.query.toString()).toBe("pack=demo&filter=run&limit=10&offset=0");
    expect((await client.getExecution("exec1")).status).toBe("succeeded");
    expect((await client.listInquiries()).map((i) => i.id)).toEqual(["inq1"]);
    expect(await client.respondInquiry("inq1", { approved: true })).toEqual({ id: "inq1", response: { approved: true } });
    expect(st2.seen.at(-1)!.body).toEqual({ id: "inq1", response: { approved: true } });
    expect(await client.validateToken("minist2-token-unknown")).toBe(false);
  });

  test("an answer of the wrong shape is an St2ApiError naming the field", async () => {
    const err = await clientWith(new ApiKeyProvider(API_KEY)).getExecution("shape").catch((e) => e);
    expect(err).toBeInstanceOf(St2ApiError);
    expect(err.faultstring).toContain("unexpected answer from StackStorm at id");
  });

  for (const status of [400, 403, 404, 500]) {
    test(`a ${status} fails with StackStorm's faultstring and without retrying`, async () => {
      const err = await clientWith(new ApiKeyProvider(API_KEY)).getExecution(`fail${status}`).catch((e) => e);
      expect(err).toBeInstanceOf(St2ApiError);
      expect(err.status).toBe(status);
      expect(err.faultstring).toBe(`StackStorm says ${status}`);
      expect(err.message).toBe(`GET /api/v1/executions/fail${status} failed: ${status} StackStorm says ${status}`);
      expect(st2.seen.filter((s) => s.path === `/api/v1/executions/fail${status}`).length).toBe(1);
    });
  }

  test("probeApiKey tells a valid key from a refused one", async () => {
    const client = clientWith(new TokenProvider("unused-token-0000"));
    expect(await client.probeApiKey(API_KEY)).toEqual({ valid: true, user: { username: "bot", authentication: { method: "api-key" } } });
    expect(await client.probeApiKey("wrong-key-000000")).toEqual({ valid: false, reason: "Unauthorized - Invalid or missing credentials" });
  });

  test("an unreachable StackStorm is status 0 and does not mark the credential failing", async () => {
    const client = new St2Client({ http, urls: { api: "http://127.0.0.1:9/api/v1", auth: "x", stream: "x" }, provider: new ApiKeyProvider(API_KEY) });
    const err = await client.listAliases().catch((e) => e);
    expect(err.status).toBe(0);
    expect(err.faultstring).toContain("StackStorm unreachable at 127.0.0.1:9");
    expect(client.health().state).toBe("unknown");
  });
});

describe("credentials through the client", () => {
  test("fromConfig uses user/password: one token with user_token_ttl, reused", async () => {
    const client = St2Client.fromConfig(configFor(`[stackstorm.api_auth.user]\nname = "bot"\npassword = "${PASSWORD}"`));
    await client.getExecution("exec1");
    await client.getExecution("exec1");
    const tokenCalls = st2.seen.filter((s) => s.path === "/auth/v1/tokens");
    expect(tokenCalls.length).toBe(1);
    expect(tokenCalls[0]!.body).toEqual({ ttl: 600 });
    expect(client.health().state).toBe("ok");
    expect(client.health().credential).toBe("user bot");
  });

  test("fromConfig prefers the API key", async () => {
    const client = St2Client.fromConfig(configFor(`[stackstorm.api_auth]\napikey = "${API_KEY}"\n[stackstorm.api_auth.user]\nname = "bot"\npassword = "${PASSWORD}"`));
    await client.getExecution("exec1");
    expect(st2.seen.at(-1)!.headers.get("St2-Api-Key")).toBe(API_KEY);
    expect(st2.seen.some((s) => s.path === "/auth/v1/tokens")).toBe(false);
  });

  test("fromConfig without any credential fails with a ConfigError when used", async () => {
    const err = await St2Client.fromConfig(configFor("")).listAliases().catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
  });

  test("a revoked token is renewed on 401 and the call retried once", async () => {
    const client = St2Client.fromConfig(configFor(`[stackstorm.api_auth.user]\nname = "bot"\npassword = "${PASSWORD}"`));
    await client.getExecution("exec1");
    const before = st2.issued();
    for (const t of [...st2.valid]) if (t.startsWith("minist2-token")) st2.valid.delete(t);
    expect((await client.getExecution("exec1")).id).toBe("exec1");
    expect(st2.issued()).toBe(before + 1);
    const calls = st2.seen.filter((s) => s.path === "/api/v1/executions/exec1");
    expect(calls.length).toBe(3);
    expect(calls[2]!.headers.get("X-Auth-Token")).toBe(`minist2-token-${before + 1}-xxxx`);
  });

  test("when the renewed token is refused too, the call fails with StackStorm's faultstring after one retry", async () => {
    const http2 = new St2Http({
      fetch: async (url, init) => {
        const res = await fetch(url, init);
        // Every API call is refused, even with a brand-new token.
        return String(url).includes("/api/v1/") ? jsonResponse(401, { faultstring: "Unauthorized - Token has expired." }) : res;
      },
    });
    let issued = 0;
    const provider = new PasswordProvider({
      username: "bot",
      password: PASSWORD,
      ttlSeconds: 600,
      issue: async () => ({ token: `renewed-token-${++issued}-yyyy`, expiry: new Date(Date.now() + 600_000) }),
    });
    const client = new St2Client({ http: http2, urls: st2.urls, provider });
    const err = await client.getExecution("exec1").catch((e) => e);
    expect(err).toBeInstanceOf(St2ApiError);
    expect(err.status).toBe(401);
    expect(err.faultstring).toBe("Unauthorized - Token has expired.");
    expect(issued).toBe(2);
    expect(client.health()).toMatchObject({ state: "failing", reason: "Unauthorized - Token has expired." });
  });

  test("a wrong password fails with the auth faultstring and marks the credential failing", async () => {
    const client = St2Client.fromConfig(configFor(`[stackstorm.api_auth.user]\nname = "bot"\npassword = "not-the-password"`));
    const err = await client.listAliases().catch((e) => e);
    expect(err.status).toBe(401);
    expect(err.faultstring).toBe("Invalid or missing credentials");
    expect(client.health().state).toBe("failing");
    expect(logs.text()).not.toContain("not-the-password");
  });

  test("a static token refused with 401: clear error, unhealthy, st2bot keeps going, and recovery is noticed", async () => {
    const token = "static-bot-token-0042";
    st2.valid.add(token);
    const client = clientWith(new TokenProvider(token));
    await client.getExecution("exec1");
    expect(client.health().state).toBe("ok");

    st2.valid.delete(token);
    const err = await client.getExecution("exec1").catch((e) => e);
    expect(err.status).toBe(401);
    expect(err.faultstring).toBe("Unauthorized - Invalid or missing credentials");
    expect(st2.seen.filter((s) => s.path === "/api/v1/executions/exec1").length).toBe(2);
    const health = client.health();
    expect(health.state).toBe("failing");
    expect(health.reason).toBe("Unauthorized - Invalid or missing credentials");
    expect(health.credential).toBe("token …0042");
    expect(logs.text()).toContain("st2bot cannot renew a token");
    expect(logs.text()).toContain("StackStorm refused the token …0042 (Unauthorized - Invalid or missing credentials): st2bot cannot renew a token");

    // The periodic re-check notices when the token works again.
    const stop = client.startHealthCheck(30);
    await Bun.sleep(100);
    expect(client.health().state).toBe("failing");
    st2.valid.add(token);
    await waitFor("the health check to pass", () => client.health().state === "ok", 3000).finally(stop);
    expect(client.health().state).toBe("ok");
    expect(logs.text()).toContain("StackStorm accepts the token …0042 again");
    expect(logs.text()).not.toContain(token);
    expect(err.message).not.toContain(token);
  });

  test("withCredential acts as another identity without touching the bot's health", async () => {
    const bot = clientWith(new ApiKeyProvider(API_KEY));
    await bot.getExecution("exec1");
    const user = bot.withCredential(new TokenProvider("user-token-refused-01"));
    expect(user.http).toBe(bot.http);
    expect((await user.getExecution("exec1").catch((e) => e)).status).toBe(401);
    expect(st2.seen.at(-1)!.headers.get("X-Auth-Token")).toBe("user-token-refused-01");
    expect(user.health().state).toBe("failing");
    expect(bot.health().state).toBe("ok");
  });
});

describe("against the StackStorm emulator", () => {
  const BOT_PASSWORD = "emulated-Passw0rd";
  const USER_KEY = "emulated-user-apikey-0001";
  let emu: TestEmulator;
  let denied = false;
  beforeAll(async () => {
    emu = await startTestEmulator({
      users: { bot: BOT_PASSWORD },
      apiKeys: { [USER_KEY]: "chatuser" },
      admins: [],
      aliases: Array.from({ length: 250 }, (_, i) => ({
        name: `alias_${i}`,
        pack: "demo",
        action_ref: "core.local",
        formats: [`run ${i} {{cmd}}`],
      })),
      canExecute: () => !denied,
    });
  });
  afterAll(() => emu.stop());
  // Every request st2bot made must be one StackStorm's spec accepts.
  afterEach(() => assertNoViolations(emu));
  const emuConfig = (auth: string) =>
    parseConfig(`[stackstorm]\napi_url = "${emu.apiUrl}"\nauth_url = "${emu.authUrl}"\nstream_url = "${emu.streamUrl}"\nuser_token_ttl = 600\n${auth}`, "t.toml");
  const botClient = () => St2Client.fromConfig(emuConfig(`[stackstorm.api_auth.user]\nname = "bot"\npassword = "${BOT_PASSWORD}"`));
  const requestsTo = (path: string) => emu.requests.filter((r) => r.path === path);

  test("250 aliases arrive in 3 pages for a user capped at 100", async () => {
    const before = requestsTo("/api/v1/actionalias").length;
    const client = St2Client.fromConfig(emuConfig(`[stackstorm.api_auth]\napikey = "${USER_KEY}"`));
    const all = await client.listAliases();
    expect(all).toHaveLength(250);
    expect(new Set(all.map((a) => (a as { ref?: string }).ref)).size).toBe(250);
    expect(requestsTo("/api/v1/actionalias").slice(before).map((r) => r.query.offset)).toEqual(["0", "100", "200"]);
  });

  test("executeAlias is accepted as sent (StackStorm refuses unknown keys) and acks", async () => {
    const res = await botClient().executeAlias({
      name: "alias_7",
      format: "run 7 {{cmd}}",
      command: "run 7 uptime",
      source_channel: "#ops",
      user: "alice",
      source_context: { thread: "t-1" },
      notification_route: "errbot",
    });
    expect(res.execution.id).toBeString();
    const last = emu.requests.at(-1)!;
    expect(last.status).toBe(201);
    expect(Object.keys(last.body as object).sort()).toEqual(["command", "format", "name", "notification_route", "source_channel", "source_context", "user"]);
  });

  test("StackStorm's faultstrings come through for 400, 403, 404 and 500", async () => {
    const client = botClient();
    const bad = await client.executeAlias({ name: "alias_1", format: "nope", command: "run 1 x", source_channel: "c" }).catch((e) => e);
    expect([bad.status, bad.faultstring]).toEqual([400, 'Format string "nope" is not available on the alias "alias_1"']);
    const missing = await client.getExecution("000000000000000000000000").catch((e) => e);
    expect(missing.status).toBe(404);
    expect(missing.faultstring).toBeString();
    denied = true;
    const forbidden = await client.executeAlias({ name: "alias_1", format: "run 1 {{cmd}}", command: "run 1 x", source_channel: "c" }).catch((e) => e);
    denied = false;
    expect(forbidden.status).toBe(403);
    expect(forbidden.faultstring).toContain("doesn't have required permission");
    emu.faults.failNext(1, { status: 500, faultstring: "Internal Server Error", pathPrefix: "/api/v1/executions" });
    const broken = await client.getExecution("x").catch((e) => e);
    expect([broken.status, broken.faultstring]).toEqual([500, "Internal Server Error"]);
  });

  test("expired tokens are renewed on 401 and the call retried once", async () => {
    const client = botClient();
    await client.listInquiries();
    const issued = emu.tokens.length;
    emu.faults.expireTokens();
    expect(await client.listInquiries()).toEqual([]);
    expect(emu.tokens.length).toBe(issued + 1);
    expect(client.health().state).toBe("ok");
  });

  test("a static token refused: clear error, failing health, recovery noticed by the re-check", async () => {
    const token = emu.createToken("bot", 3600).token;
    const client = St2Client.fromConfig(emuConfig(`[stackstorm.api_auth]\ntoken = "${token}"`));
    await client.listInquiries();
    emu.faults.failNext(2, { status: 401, faultstring: "Unauthorized - Token has expired." });
    const err = await client.listInquiries().catch((e) => e);
    expect([err.status, err.faultstring]).toEqual([401, "Unauthorized - Token has expired."]);
    expect(client.health()).toMatchObject({ state: "failing", reason: "Unauthorized - Token has expired." });
    expect(logs.text()).toContain("cannot renew a token");
    await client.recheck();
    expect(client.health().state).toBe("failing");
    await client.recheck();
    expect(client.health().state).toBe("ok");
    expect(logs.text()).not.toContain(token);
  });

  test("probeApiKey, validateToken and inquiries", async () => {
    const client = botClient();
    const probe = await client.probeApiKey(USER_KEY);
    expect(probe.valid && probe.user.username).toBe("chatuser");
    expect((await client.probeApiKey("no-such-key-000")).valid).toBe(false);
    const t = await client.createToken("bot", BOT_PASSWORD, 60);
    expect(await client.validateToken(t.token)).toBe(true);
    expect(await client.validateToken("not-a-token-0000")).toBe(false);
    const id = emu.createInquiry({ schema: { type: "object", properties: { ok: { type: "boolean", required: true } } } });
    expect((await client.listInquiries()).map((i) => i.id)).toContain(id);
    expect((await client.getInquiry(id)).id).toBe(id);
    expect(await client.respondInquiry(id, { ok: true })).toEqual({ id, response: { ok: true } });
  });

  test("an emulator that is down is 'StackStorm unreachable' and up again works", async () => {
    const client = botClient();
    await client.listInquiries();
    await emu.faults.down(true);
    try {
      const err = await client.listInquiries().catch((e) => e);
      expect(err.status).toBe(0);
      expect(err.faultstring).toContain(`StackStorm unreachable at 127.0.0.1:${emu.port}`);
    } finally {
      await emu.faults.down(false);
    }
    expect(await client.listInquiries()).toBeArray();
  });
});
