/**
 * The login API in-process (`app.handle(new Request(...))` on the real server app), against
 * the StackStorm emulator: every status code, the rate limits, the three kinds of credential,
 * the headers, and that neither the password nor anything else secret is kept or logged.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Identities, INVALID_SESSION } from "../../src/auth/identity.ts";
import { CleartextStore, EncryptedStore, importKey, type SecretStore } from "../../src/auth/secrets.ts";
import { Sessions } from "../../src/auth/sessions.ts";
import { parseConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { St2Client } from "../../src/st2/client.ts";
import { ApiKeyProvider } from "../../src/st2/credentials.ts";
import { openDatabase, type Database } from "../../src/store/db.ts";
import { loginPlugin, type LoginLimits } from "../../src/web/login.ts";
import { createServer, peerAddress, type WebServer } from "../../src/web/server.ts";
import { assertNoViolations, startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import { captureLogs } from "../st2/helpers.ts";
import { tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();

const BOT_KEY = "bot-api-key-0123456789abcdef";
const ALICE_KEY = "alice-api-key-0123456789abcdef";
const ALICE_PASSWORD = "correct-horse-battery-staple-42";
const WORD = "tangerine-shared-word";
const CHAT_USER = "memory:alice";
const KEY = Buffer.alloc(32, 9).toString("base64");
/** Each redeem runs argon2id (hundreds of ms on a busy machine). */
const SLOW = 30_000;

let emulator: TestEmulator;
let dir: string;
let db: Database;
let config: Config;
let identities: Identities;
let server: WebServer;
let logs: ReturnType<typeof captureLogs>;
const secretsSeen = new Set<string>([ALICE_PASSWORD, WORD, ALICE_KEY]);

beforeAll(async () => {
  emulator = await startTestEmulator({
    users: { st2admin: "Ch@ngeMe", alice: ALICE_PASSWORD },
    apiKeys: { [BOT_KEY]: "st2admin", [ALICE_KEY]: "alice" },
  });
  logs = captureLogs();
});

afterAll(async () => {
  logs.restore();
  await emulator.stop();
});

/** In-process requests have no socket: a test names the client's address (the server resolves it; see proxies.test.ts). */
const testPeer = (r: Request) => r.headers.get("x-test-peer") ?? undefined;

async function setup(opts: { limits?: Partial<LoginLimits>; clock?: () => number; store?: "encrypted" | "cleartext" } = {}) {
  dir = tmp("login");
  config = parseConfig(
    `[bot]
data_dir = ${JSON.stringify(dir)}
log_level = "info"
[stackstorm]
api_url = "${emulator.apiUrl}"
auth_url = "${emulator.authUrl}"
stream_url = "${emulator.streamUrl}"
secrets_store = "${opts.store ?? "encrypted"}"
[stackstorm.api_auth]
apikey = "${BOT_KEY}"
[stackstorm.rbac_auth.clientside]
url = "https://chatops.example.com/"`,
    "<test>",
    {},
  );
  db = openDatabase(join(dir, "st2bot.sqlite"));
  const store: SecretStore = opts.store === "cleartext" ? new CleartextStore() : await EncryptedStore.open(db, await importKey(KEY, "test"));
  identities = new Identities(config, St2Client.fromConfig(config), store, new Sessions(db, 600_000));
  server = createServer({ config: config.web, plugins: [loginPlugin({ identities, config, limits: opts.limits, clock: opts.clock, peerAddress: testPeer })] });
}

afterEach(() => {
  db.close();
});

const URL_BASE = "http://127.0.0.1:8888";
const get = (path: string, headers: Record<string, string> = {}) => server.app.handle(new Request(URL_BASE + path, { headers }));
const post = (id: string, body: unknown, headers: Record<string, string> = {}) =>
  server.app.handle(
    new Request(`${URL_BASE}/login/authenticate/${id}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    }),
  );
const start = async () => {
  const id = await identities.sessions.start(CHAT_USER, WORD);
  secretsSeen.add(id);
  return id;
};
const passwordLogin = (over: Record<string, unknown> = {}) => ({ shared_word: WORD, kind: "password", username: "alice", password: ALICE_PASSWORD, ...over });
const diskBytes = () => ["", "-wal"].map((s) => { try { return readFileSync(join(dir, "st2bot.sqlite" + s)).toString("latin1"); } catch { return ""; } }).join("");

function expectHeaders(res: Response): void {
  const h = res.headers;
  expect(h.get("content-security-policy")).toContain("default-src 'self'");
  expect(h.get("content-security-policy")).toContain("frame-ancestors 'none'");
  expect(h.get("content-security-policy")).toContain("form-action 'self'");
  expect(h.get("x-frame-options")).toBe("DENY");
  expect(h.get("x-content-type-options")).toBe("nosniff");
  expect(h.get("cache-control")).toBe("no-store");
  expect(h.get("referrer-policy")).toBe("no-referrer");
  expect(h.get("set-cookie")).toBeNull();
}

describe("the page", () => {
  beforeEach(() => setup());

  test("is served for any id, identical for open and unknown links, with strict headers", async () => {
    const open = await get(`/login/${await start()}`);
    const unknown = await get(`/login/${crypto.randomUUID()}`);
    expect(open.status).toBe(200);
    expect(open.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expectHeaders(open);
    const html = await open.text();
    expect(html).toContain("<form");
    expect(html).toContain('src="assets/login.js"');
    expect(html).not.toMatch(/<script>|<style|style=|on(click|submit|load)=/i); // nothing inline for the CSP to block
    expect(await unknown.text()).toBe(html);
  }, SLOW);

  test("its script and style are served, anything else under assets is not", async () => {
    const js = await get("/login/assets/login.js");
    expect(js.status).toBe(200);
    // Served by @elysiajs/static from the embedded folder (see tests/cli/main.test.ts for the binary).
    expect(js.headers.get("content-type")).toMatch(/^text\/javascript; ?charset=utf-8$/);
    expect(js.headers.get("cross-origin-resource-policy")).toBe("same-origin");
    expect(await js.text()).toContain("authenticate/");
    expectHeaders(js);
    const css = await get("/login/assets/login.css");
    expect(css.headers.get("content-type")).toMatch(/^text\/css; ?charset=utf-8$/);
    expect(await css.text()).toContain("st2bot login page");
    expectHeaders(css);
    for (const path of ["/login/assets/login.html", "/login/assets/..%2f..%2fpackage.json", "/login/assets/constructor", "/login/assets/x/y"]) {
      expect((await get(path)).status).toBe(404);
    }
  });
});

describe("GET /login/session/<id>", () => {
  beforeEach(() => setup());

  test("200 while open, then the one generic 404 for used, unknown and malformed ids", async () => {
    const id = await start();
    const open = await get(`/login/session/${id}`);
    expect(open.status).toBe(200);
    expect(await open.json()).toEqual({ open: true });
    expectHeaders(open);
    expect((await post(id, passwordLogin())).status).toBe(200);
    for (const other of [id, crypto.randomUUID(), "nope"]) {
      const res = await get(`/login/session/${other}`);
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: INVALID_SESSION });
    }
  }, SLOW);
});

describe("POST /login/authenticate/<id>", () => {
  beforeEach(() => setup());

  test("username + password: 200 as the StackStorm user; only a token is stored, encrypted; the link is used up", async () => {
    const id = await start();
    const res = await post(id, passwordLogin());
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toEqual({ ok: true, user: "alice", message: "You are logged in to StackStorm as alice. You can close this page and go back to chat." });
    expectHeaders(res);

    const token = emulator.tokens.findLast((t) => t.user === "alice")!;
    secretsSeen.add(token.token);
    expect(await identities.store.get(CHAT_USER)).toEqual({ kind: "token", token: token.token, expiry: token.expiry });
    // Neither the password nor the token is readable anywhere in the database files.
    const disk = diskBytes();
    expect(disk).not.toContain(ALICE_PASSWORD);
    expect(disk).not.toContain(Buffer.from(`alice:${ALICE_PASSWORD}`).toString("base64"));
    expect(disk).not.toContain(token.token);
    expect(disk).not.toContain(WORD);

    const again = await post(id, passwordLogin());
    expect(again.status).toBe(404);
    expect(await again.json()).toEqual({ error: INVALID_SESSION });
  }, SLOW);

  test("user token: 200; the token is validated with StackStorm and stored", async () => {
    const token = emulator.createToken("alice");
    secretsSeen.add(token.token);
    const id = await start();
    const res = await post(id, { shared_word: WORD, kind: "token", token: token.token });
    expect(res.status).toBe(200);
    expect((await res.json()).ok).toBe(true);
    expect(emulator.requests.some((r) => r.path === "/auth/v1/tokens/validate" && r.status === 200)).toBe(true);
    expect(await identities.store.get(CHAT_USER)).toEqual({ kind: "token", token: token.token });
  }, SLOW);

  test("user token while StackStorm refuses the bot's own key: 502 that says so, and the link is not burned", async () => {
    const token = emulator.createToken("alice");
    secretsSeen.add(token.token);
    // tokens/validate is authenticated by the bot: with its key refused, the user's token cannot be checked.
    const refusedBot = St2Client.fromConfig(config).withCredential(new ApiKeyProvider("revoked-bot-key-0123456789abcdef"));
    identities = new Identities(config, refusedBot, identities.store, identities.sessions);
    server = createServer({ config: config.web, plugins: [loginPlugin({ identities, config, limits: { failuresPerSession: 1 } })] });
    const id = await start();
    const res = await post(id, { shared_word: WORD, kind: "token", token: token.token });
    expect(res.status).toBe(502);
    expect((await res.json()).error).toContain("does not accept st2bot's own credential");
    expect(identities.sessions.isOpen(id)).toBe(true);
    expect(await identities.store.get(CHAT_USER)).toBeUndefined();
  }, SLOW);

  test("API key: 200 as the key's owner; the key is stored", async () => {
    const id = await start();
    const res = await post(id, { shared_word: WORD, kind: "apikey", apikey: ALICE_KEY });
    expect(res.status).toBe(200);
    expect((await res.json()).user).toBe("alice");
    expect(await identities.store.get(CHAT_USER)).toEqual({ kind: "apikey", apikey: ALICE_KEY });
  }, SLOW);

  test("wrong shared word: 401, nothing asked of StackStorm, the link stays open", async () => {
    const id = await start();
    const asked = emulator.requests.length;
    const res = await post(id, passwordLogin({ shared_word: "banana" }));
    expect(res.status).toBe(401);
    expect((await res.json()).error).toBe("The shared word is not the one given to the bot.");
    expect(emulator.requests.length).toBe(asked);
    expect((await get(`/login/session/${id}`)).status).toBe(200);
  }, SLOW);

  test("credentials StackStorm refuses: 401 with the same words whether or not the user exists", async () => {
    const id = await start();
    const wrongPassword = await post(id, passwordLogin({ password: "not-her-password" }));
    const last = emulator.requests.findLast((r) => r.path === "/auth/v1/tokens")!;
    expect(last.status).toBe(401);
    const noSuchUser = await post(id, passwordLogin({ username: "nobody-at-all", password: "whatever" }));
    const badToken = await post(id, { shared_word: WORD, kind: "token", token: "not-a-real-token-000000" });
    const badKey = await post(id, { shared_word: WORD, kind: "apikey", apikey: "not-a-real-key-000000" });
    const bodies = [];
    for (const res of [wrongPassword, noSuchUser, badToken, badKey]) {
      expect(res.status).toBe(401);
      bodies.push(await res.json());
    }
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
    expect(bodies[0]).toEqual({ error: "StackStorm did not accept those credentials." });
    expect(await identities.store.get(CHAT_USER)).toBeUndefined();
    expect((await get(`/login/session/${id}`)).status).toBe(200);
  }, SLOW);

  test("unknown link: 404 with the generic sentence", async () => {
    const res = await post(crypto.randomUUID(), passwordLogin());
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: INVALID_SESSION });
  }, SLOW);

  test("StackStorm unreachable: 502, and the attempt does not count against the link", async () => {
    const id = await start();
    emulator.faults.failNext(1, { status: 500, pathPrefix: "/auth/v1/tokens" });
    const res = await post(id, passwordLogin());
    expect(res.status).toBe(502);
    expect((await res.json()).error).toContain("could not be reached");
    expect((await post(id, passwordLogin())).status).toBe(200);
  }, SLOW);

  test("415 unless the body is JSON", async () => {
    const id = await start();
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx"]) {
      const res = await post(id, JSON.stringify(passwordLogin()), { "content-type": type });
      expect(res.status).toBe(415);
      expectHeaders(res);
    }
    expect((await post(id, passwordLogin(), { "content-type": "application/json; charset=utf-8" })).status).toBe(200);
  }, SLOW);

  test("413 over 8 KB, declared or streamed", async () => {
    const id = await start();
    const big = JSON.stringify(passwordLogin({ password: "x".repeat(9000) }));
    expect((await post(id, big)).status).toBe(413);
    const chunked = new Request(`${URL_BASE}/login/authenticate/${id}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode("x".repeat(1000)));
          c.close();
        },
      }),
    });
    expect((await server.app.handle(chunked)).status).toBe(413);
  }, SLOW);

  test("400 names the field that is wrong, never echoing values", async () => {
    const id = await start();
    const cases: [unknown, string][] = [
      ["{not json", "the body is not valid JSON"],
      [[1, 2], "the body must be a JSON object"],
      [{ kind: "password", username: "alice", password: "p" }, "shared_word"],
      [passwordLogin({ password: undefined }), "password"],
      [passwordLogin({ username: "" }), "username: is required"],
      [passwordLogin({ kind: "kerberos" }), "kind"],
      [passwordLogin({ token: "extra" }), "token: is not expected"],
      [{ shared_word: WORD, kind: "apikey", apikey: 42 }, "apikey"],
      [passwordLogin({ shared_word: "w".repeat(300) }), "shared_word: must be at most 256"],
    ];
    for (const [body, message] of cases) {
      const res = await post(id, body);
      expect(res.status).toBe(400);
      const error = (await res.json()).error as string;
      expect(error).toContain(message);
      expect(error).not.toContain(ALICE_PASSWORD);
      expect(error).not.toContain(WORD);
    }
    expect((await get(`/login/session/${id}`)).status).toBe(200);
  }, SLOW);

  test("403 for a cross-site request", async () => {
    const id = await start();
    const res = await post(id, passwordLogin(), { "sec-fetch-site": "cross-site", origin: "https://evil.example" });
    expect(res.status).toBe(403);
    expect((await get(`/login/session/${id}`)).status).toBe(200);
  }, SLOW);
});

describe("rate limits", () => {
  test("five failed attempts burn the link: 429 with Retry-After, then the right word no longer works", async () => {
    await setup();
    const id = await start();
    const from = (n: number) => ({ "x-test-peer": `198.51.100.${n}` }); // spread over addresses: only the link's limit applies
    for (let i = 1; i <= 4; i++) expect((await post(id, passwordLogin({ shared_word: `guess-${i}` }), from(i))).status).toBe(401);
    const fifth = await post(id, passwordLogin({ password: "still-wrong" }), from(5));
    expect(fifth.status).toBe(429);
    expect(Number(fifth.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await fifth.json()).error).toContain("no longer works");
    expect((await get(`/login/session/${id}`)).status).toBe(404);
    const right = await post(id, passwordLogin(), from(6));
    expect(right.status).not.toBe(200);
    expect(await identities.store.get(CHAT_USER)).toBeUndefined();
  }, SLOW);

  test("per address: the 11th attempt in 5 minutes is 429 with Retry-After; other addresses and later attempts pass", async () => {
    let now = 1_700_000_000_000;
    await setup({ clock: () => now });
    const id = await start();
    const from = { "x-test-peer": "203.0.113.7" };
    // Bodies that fail validation still count: the limit is on attempts, whatever they carry.
    for (let i = 0; i < 10; i++) expect((await post(id, { kind: "password" }, from)).status).toBe(400);
    const limited = await post(id, passwordLogin(), from);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("300");
    expectHeaders(limited);
    // A forwarding header the client sends itself changes nothing.
    expect((await post(id, passwordLogin(), { "x-test-peer": "203.0.113.7", "x-forwarded-for": "192.0.2.99" })).status).toBe(429);
    now += 100_000;
    expect((await post(id, passwordLogin(), from)).headers.get("retry-after")).toBe("200");
    now += 200_001;
    expect((await post(id, passwordLogin({ shared_word: "no" }), from)).status).toBe(401);
    expect((await post(id, passwordLogin(), { "x-test-peer": "192.0.2.1" })).status).toBe(200);
  }, SLOW);

  test("logins checked at once are bounded: past the bound, 429 without touching the link", async () => {
    await setup({ limits: { concurrentLogins: 1 } });
    const [a, b] = [await start(), await identities.sessions.start("memory:bob", WORD)];
    secretsSeen.add(b);
    const [first, second] = await Promise.all([
      post(a, passwordLogin(), { "x-test-peer": "192.0.2.10" }),
      post(b, passwordLogin({ shared_word: "wrong" }), { "x-test-peer": "192.0.2.11" }),
    ]);
    expect(first.status).toBe(200);
    expect(second.status).toBe(429);
    expect(second.headers.get("retry-after")).toBe("5");
    expect((await second.json()).error).toContain("busy");
    // The refused attempt did not count as a failure against bob's link.
    const bobs = await post(b, passwordLogin({ shared_word: "wrong" }), { "x-test-peer": "192.0.2.11" });
    expect(bobs.status).toBe(401);
  }, SLOW);

  test("one address holds at most half the login slots, so it cannot fill the cap for others", async () => {
    await setup({ limits: { concurrentLogins: 2 } });
    const [a, b, c] = [await start(), await identities.sessions.start("memory:bob", WORD), await identities.sessions.start("memory:carol", WORD)];
    for (const id of [b, c]) secretsSeen.add(id);
    const [first, second, other] = await Promise.all([
      post(a, passwordLogin(), { "x-test-peer": "192.0.2.20" }),
      post(b, passwordLogin({ shared_word: "wrong" }), { "x-test-peer": "192.0.2.20" }),
      post(c, passwordLogin({ shared_word: "wrong" }), { "x-test-peer": "192.0.2.21" }),
    ]);
    expect(first.status).toBe(200);
    expect(second.status).toBe(429);
    expect((await second.json()).error).toContain("still being checked");
    expect(other.status).toBe(401);
  }, SLOW);

  test("over a real socket, forwarding headers count only from web.trusted_proxies", async () => {
    await setup();
    const listen = async (trusted: string[]) => {
      const s = createServer({ config: { ...config.web, port: 0, trusted_proxies: trusted }, plugins: [loginPlugin({ identities, config, peerAddress })] });
      return { s, url: (await s.listen()).url };
    };
    const attempt = (url: string, xff: string) =>
      fetch(`${url}/login/authenticate/${crypto.randomUUID()}`, { method: "POST", headers: { "content-type": "application/json", "x-forwarded-for": xff }, body: "{}" });
    // No trusted proxy (the default): a loopback peer rotating X-Forwarded-For is still one client.
    const direct = await listen([]);
    try {
      for (let i = 0; i < 10; i++) expect((await attempt(direct.url, `198.51.100.${i}`)).status).toBe(400);
      expect((await attempt(direct.url, "198.51.100.200")).status).toBe(429);
    } finally {
      await direct.s.stop();
    }
    // Behind a trusted proxy on this host, the address it appended is the client.
    const proxied = await listen(["127.0.0.1", "::1"]);
    try {
      for (let i = 0; i < 12; i++) expect((await attempt(proxied.url, `198.51.100.${i}`)).status).toBe(400);
      for (let i = 0; i < 10; i++) expect((await attempt(proxied.url, `forged, 203.0.113.50`)).status).toBe(400);
      expect((await attempt(proxied.url, "another-forged, 203.0.113.50")).status).toBe(429);
    } finally {
      await proxied.s.stop();
    }
  }, SLOW);

  test("per address for link checks", async () => {
    await setup({ limits: { checksPerAddress: 3 } });
    const from = { "x-test-peer": "203.0.113.8" };
    for (let i = 0; i < 3; i++) expect((await get(`/login/session/${crypto.randomUUID()}`, from)).status).toBe(404);
    const limited = await get(`/login/session/${crypto.randomUUID()}`, from);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).not.toBeNull();
  });
});

describe("with the cleartext store", () => {
  test("nothing of the login reaches the database", async () => {
    await setup({ store: "cleartext" });
    const id = await start();
    expect((await post(id, passwordLogin())).status).toBe(200);
    const token = emulator.tokens.findLast((t) => t.user === "alice")!;
    secretsSeen.add(token.token);
    expect(await identities.store.get(CHAT_USER)).toMatchObject({ kind: "token", token: token.token });
    expect(db.query("SELECT COUNT(*) AS n FROM secrets").get()).toEqual({ n: 0 });
    const disk = diskBytes();
    expect(disk).not.toContain(token.token);
    expect(disk).not.toContain(ALICE_PASSWORD);
  }, SLOW);
});

describe("afterwards", () => {
  test("no log line carried a password, shared word, link id, token or API key; StackStorm saw only valid requests", () => {
    const text = logs.text();
    expect(logs.lines.length).toBeGreaterThan(0);
    for (const secret of secretsSeen) expect(text).not.toContain(secret);
    assertNoViolations(emulator);
  });
});
