/**
 * Client-side login, the whole flow, in a real headless Chromium: a chat user asks for a login
 * link in a DM, opens it, logs in with username and password, and their next command reaches
 * StackStorm as them (not as the bot). The link then shows as used. Their credential survives a
 * restart (encrypted store on the same data dir), and a wrong key refuses to start without
 * touching the store. Screenshots of the page go to test-artifacts/.
 *
 * Needs Debian's chromium at /usr/bin/chromium (scripts/setup-test-deps.sh installs it). Without
 * it the test is skipped locally, and fails under CI=true.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { startApp, type App } from "../../src/app.ts";
import { MemoryBackend } from "../../src/chat/memory.ts";
import { parseConfig } from "../../src/config/load.ts";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { ConfigError } from "../../src/lib/errors.ts";
import { openDatabase } from "../../src/store/db.ts";
import { assertNoViolations, startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import {  } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";
import { tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = join(import.meta.dir, "..", "..", "test-artifacts");
const BOT_KEY = "bot-api-key-0123456789abcdef";
const KEY_ENV = "ST2BOT_TEST_LOGIN_BROWSER_KEY";
const KEY = Buffer.alloc(32, 5).toString("base64");
const WRONG_KEY = Buffer.alloc(32, 6).toString("base64");
const ALICE_PASSWORD = "secret";
const WORD = "pineapple";
const SLOW = 60_000;

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI !== "true") {
  console.warn(`login-browser: ${CHROMIUM} is missing (apt-get install -y chromium); skipping the browser test`);
}

test.if(process.env.CI === "true")("Chromium is installed for the browser test (CI)", () => {
  if (!haveChromium) throw new Error(`${CHROMIUM} is missing: scripts/setup-test-deps.sh should have installed Debian's chromium`);
});

describe.skipIf(!haveChromium && process.env.CI !== "true")("client-side login in a real browser", () => {
  let emulator: TestEmulator;
  let dataDir: string;
  let profileDir: string;
  let port: number;
  let app: App | undefined;
  let backend: MemoryBackend;
  let context: BrowserContext;
  let page: Page;
  let loginUrl: string;
  const pageErrors: string[] = [];
  /** Paths the page got an error status for (the favicon, an invalid link's check). */
  const failedPaths: string[] = [];

  const config = () =>
    parseConfig(
      `[bot]
data_dir = ${JSON.stringify(dataDir)}
log_level = "error"
[web]
enabled = true
host = "127.0.0.1"
port = ${port}
[secrets]
key_env = "${KEY_ENV}"
[stackstorm]
api_url = "${emulator.apiUrl}"
auth_url = "${emulator.authUrl}"
stream_url = "${emulator.streamUrl}"
timer_update = 60
secrets_store = "encrypted"
[stackstorm.api_auth]
apikey = "${BOT_KEY}"
[stackstorm.rbac_auth.clientside]
url = "http://127.0.0.1:${port}/"`,
      "<test>",
      {},
    );

  const boot = async () => {
    backend = new MemoryBackend({ name: "memory" });
    // The port must be known before start (it is in the login URL), so another process can take
    // it in between: then pick another one.
    for (let attempt = 1; ; attempt++) {
      try {
        app = await startApp({ config: config(), backend });
        return;
      } catch (err) {
        if (attempt >= 3 || !/EADDRINUSE|in use/i.test(`${(err as { code?: string }).code} ${(err as Error).message}`)) throw err;
        port = await freePort();
      }
    }
  };
  const stopApp = async () => {
    await app?.stop();
    app = undefined;
  };
  /** Alice types in a DM; resolves with the bot's next reply to her. */
  const dm = async (text: string) => {
    const seen = backend.sent.length;
    await backend.receive({ text, user: "alice", direct: true });
    return waitFor(`a reply to "${text}"`, () => backend.sent.slice(seen).find((m) => m.target.kind === "user" && m.target.id === "alice"));
  };
  /** Runs a command as alice and returns the execution it created. */
  const runAsAlice = async () => {
    const before = emulator.executions.length;
    await dm("!st2 run uptime on web1");
    return waitFor("an execution", () => emulator.executions[before]);
  };

  beforeAll(async () => {
    process.env[KEY_ENV] = KEY;
    emulator = await startTestEmulator({
      users: { st2admin: "Ch@ngeMe", alice: ALICE_PASSWORD },
      apiKeys: { [BOT_KEY]: "st2admin" },
      aliases: sampleAliases,
      actions: sampleActions,
      completionDelayMs: 5,
    });
    dataDir = tmp("login-e2e");
    profileDir = tmp("chromium");
    port = await freePort();
    mkdirSync(ARTIFACTS, { recursive: true });
    await boot();
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 760, height: 980 },
      timeout: 30_000,
    });
    page = context.pages()[0] ?? (await context.newPage());
    // CSP violations and script errors show up here: the page must have none.
    page.on("console", (m) => void (m.type() === "error" && !m.text().startsWith("Failed to load resource") && pageErrors.push(m.text())));
    page.on("response", (r) => void (r.status() >= 400 && failedPaths.push(new URL(r.url()).pathname.replace(/[0-9a-f-]{36}$/, "<id>"))));
    page.on("pageerror", (e) => void pageErrors.push(e.message));
  }, SLOW);

  afterAll(async () => {
    await context?.close();
    await stopApp();
    await emulator?.stop();
    delete process.env[KEY_ENV];
  });

  test("without a login, a command is refused and says how to log in", async () => {
    const before = emulator.executions.length;
    const reply = await dm("!st2 run uptime on web1");
    expect(reply.text).toContain("session_start");
    expect(emulator.executions.length).toBe(before);
  }, SLOW);

  test("st2session_start in a DM replies with a one-time login URL", async () => {
    const reply = await dm(`!st2session_start ${WORD}`);
    const match = /(http:\/\/127\.0\.0\.1:\d+\/login\/[0-9a-f-]{36})/.exec(reply.text);
    expect(match).not.toBeNull();
    loginUrl = match![1]!;
    const check = await fetch(loginUrl.replace("/login/", "/login/session/"));
    if (check.status !== 200) throw new Error(`GET /login/session/<id> answered ${check.status} ${await check.text()}: is loginPlugin mounted in src/app.ts?`);
  }, SLOW);

  test("the page logs alice in with username and password", async () => {
    await page.goto(loginUrl);
    const form = page.locator("#login");
    await form.waitFor({ state: "visible" });
    await expect(page.title()).resolves.toContain("Log in to StackStorm");
    // Every field has a label (accessible name), and the password choice is the default.
    const choice = (name: string) => page.getByRole("radio", { name, exact: true });
    await expect(choice("Username and password").isChecked()).resolves.toBe(true);
    await page.getByLabel("StackStorm username").fill("alice");
    await page.getByLabel("Password", { exact: true }).fill(ALICE_PASSWORD);
    await page.getByLabel("Shared word").fill(WORD);
    await page.screenshot({ path: join(ARTIFACTS, "login-page.png"), fullPage: true });

    // The choices work from the keyboard (arrow keys) and by clicking, swapping the fields in place.
    await choice("Username and password").focus();
    await page.keyboard.press("ArrowRight");
    await expect(choice("User token").isChecked()).resolves.toBe(true);
    await expect(page.locator("#token").isVisible()).resolves.toBe(true);
    await expect(page.locator("#username").isVisible()).resolves.toBe(false);
    await page.locator('label[for="kind-apikey"]').click();
    await expect(page.locator("#apikey").isVisible()).resolves.toBe(true);
    await page.locator('label[for="kind-password"]').click();
    await expect(page.locator("#username").inputValue()).resolves.toBe("alice");

    // A wrong shared word: the button is disabled while the request runs, the server's error is
    // shown, and the password is gone from the form.
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route("**/login/authenticate/*", async (route) => {
      await held;
      await route.continue();
    });
    await page.getByLabel("Shared word").fill("not-the-word");
    await page.getByRole("button", { name: "Log in" }).click();
    await expect(page.locator("#submit").isDisabled()).resolves.toBe(true);
    release();
    const error = page.locator("#error");
    await error.waitFor({ state: "visible" });
    expect(await error.textContent()).toBe("The shared word is not the one given to the bot.");
    await expect(page.locator("#password").inputValue()).resolves.toBe("");
    await expect(page.locator("#submit").isEnabled()).resolves.toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, "login-page-error.png"), fullPage: true });
    await page.unroute("**/login/authenticate/*");

    await page.getByLabel("Password", { exact: true }).fill(ALICE_PASSWORD);
    await page.getByLabel("Shared word").fill(WORD);
    await page.getByRole("button", { name: "Log in" }).click();
    const success = page.locator("#success-text");
    await success.waitFor({ state: "visible" });
    expect(await success.textContent()).toBe("You are logged in to StackStorm as alice. You can close this page and go back to chat.");
    await expect(page.locator("#password").inputValue()).resolves.toBe("");
    await page.screenshot({ path: join(ARTIFACTS, "login-page-success.png"), fullPage: true });

    expect(await context.cookies()).toEqual([]);
    expect(pageErrors).toEqual([]);
    expect(failedPaths.filter((p) => p !== "/favicon.ico")).toEqual(["/login/authenticate/<id>"]); // the wrong word's 401
    // Only the token StackStorm issued is kept, encrypted: the password is nowhere on disk.
    const disk = ["", "-wal"].map((s) => (existsSync(join(dataDir, "st2bot.sqlite" + s)) ? readFileSync(join(dataDir, "st2bot.sqlite" + s)).toString("latin1") : "")).join("");
    const token = emulator.tokens.findLast((t) => t.user === "alice")!;
    expect(disk).not.toContain(token.token);
    expect(disk).not.toContain(`alice:${ALICE_PASSWORD}`);
    expect(disk).not.toContain(WORD);
  }, SLOW);

  test("alice's next command reaches StackStorm with her own token", async () => {
    const token = emulator.tokens.findLast((t) => t.user === "alice")!;
    const exec = await runAsAlice();
    expect(exec.user).toBe("alice");
    const request = emulator.requests.findLast((r) => r.path === "/api/v1/aliasexecution")!;
    expect(request.credential).toMatchObject({ kind: "token", value: token.token, user: "alice" });
  }, SLOW);

  test("reopening the link shows that it cannot be used", async () => {
    failedPaths.length = 0;
    await page.goto(loginUrl);
    const invalid = page.locator("#invalid-text");
    await invalid.waitFor({ state: "visible" });
    expect(await invalid.textContent()).toContain("This login link is not valid");
    await expect(page.locator("#login").isVisible()).resolves.toBe(false);
    await page.screenshot({ path: join(ARTIFACTS, "login-page-invalid.png"), fullPage: true });
    expect(pageErrors).toEqual([]);
    expect(failedPaths.filter((p) => p !== "/favicon.ico")).toEqual(["/login/session/<id>"]);
  }, SLOW);

  test("after a restart on the same data dir, alice still runs as alice", async () => {
    await stopApp();
    await boot();
    const exec = await runAsAlice();
    expect(exec.user).toBe("alice");
  }, SLOW);

  test("a wrong key refuses to start, clearly, and leaves the store intact", async () => {
    await stopApp();
    const dbPath = join(dataDir, "st2bot.sqlite");
    const rows = () => {
      const db = openDatabase(dbPath);
      try {
        return db.query("SELECT chat_user, hex(nonce) AS n, hex(ciphertext) AS c FROM secrets UNION ALL SELECT key, value, '' FROM meta").all();
      } finally {
        db.close();
      }
    };
    const before = rows();
    expect(before.length).toBeGreaterThanOrEqual(2);
    process.env[KEY_ENV] = WRONG_KEY;
    const err = await startApp({ config: config(), backend: new MemoryBackend({ name: "memory" }) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain("does not match");
    expect(rows()).toEqual(before);

    process.env[KEY_ENV] = KEY;
    await boot();
    expect((await runAsAlice()).user).toBe("alice");
    assertNoViolations(emulator);
  }, SLOW);
});

async function freePort(): Promise<number> {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = probe.port!;
  await probe.stop(true);
  return port;
}
