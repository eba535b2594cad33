/**
 * The web server as the compiled binary serves it, from an empty directory (issue 11, item 10;
 * issue 10, item 2): `npm run build`'s executable serves the login page's script and style
 * through @elysiajs/static from the files embedded in it, the favicon answers 204, and a short
 * Host header reroutes nothing. One build, one `st2bot run` against the StackStorm emulator.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import { tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();

const root = join(import.meta.dir, "..", "..");
const KEY = "binary-test-api-key-0123456789";
const TOKEN = "binary-test-webhook-token-0123456789abcdef";

let emulator: TestEmulator;
let dir: string;
let bot: ReturnType<typeof Bun.spawn<"pipe", "pipe", "pipe">> | undefined;
let base = "";

beforeAll(async () => {
  emulator = await startTestEmulator({ apiKeys: { [KEY]: "st2admin" } });
  dir = tmp("binary-web");
  const build = Bun.spawn([process.execPath, join(root, "scripts", "build.ts"), "--outdir", join(dir, "built")], { cwd: root, stdout: "pipe", stderr: "pipe" });
  if ((await build.exited) !== 0) throw new Error(`build failed: ${await new Response(build.stderr).text()}`);
  const empty = join(dir, "empty");
  Bun.spawnSync(["mkdir", "-p", empty]);
  Bun.spawnSync(["cp", join(dir, "built", "st2bot"), join(empty, "st2bot")]);
  writeFileSync(
    join(empty, "st2bot.toml"),
    `[bot]\ndata_dir = "./data"\nlog_level = "info"\n[web]\nport = 0\n[webhook]\ntoken = "${TOKEN}"\n` +
      `[stackstorm]\napi_url = "${emulator.apiUrl}"\nauth_url = "${emulator.authUrl}"\nstream_url = "${emulator.streamUrl}"\n[stackstorm.api_auth]\napikey = "${KEY}"\n`,
  );
  bot = Bun.spawn([join(empty, "st2bot"), "run", "-c", "st2bot.toml"], { cwd: empty, stdin: "pipe", stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "" } });
  // The bound URL is in the "web server listening" log line.
  const decoder = new TextDecoder();
  let seen = "";
  const reader = bot.stderr.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    seen += decoder.decode(value);
    const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(seen);
    if (m) {
      base = m[1]!;
      break;
    }
  }
  // Keep draining, so a chatty bot never blocks on a full pipe.
  void (async () => {
    while (!(await reader.read()).done);
  })();
  if (!base) throw new Error(`st2bot did not start its web server:\n${seen}`);
}, 180_000);

afterAll(async () => {
  bot?.kill();
  await bot?.exited;
  await emulator?.stop();
});

test("the login page, its script and its style come out of the executable", async () => {
  const page = await fetch(`${base}/login/some-link-id`);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('src="assets/login.js"');
  const js = await fetch(`${base}/login/assets/login.js`);
  expect(js.status).toBe(200);
  expect(js.headers.get("content-type")).toMatch(/^text\/javascript/);
  expect(js.headers.get("cache-control")).toBe("no-store");
  expect(await js.text()).toContain("authenticate/");
  const css = await fetch(`${base}/login/assets/login.css`);
  expect(css.status).toBe(200);
  expect(await css.text()).toContain("st2bot login page");
  // Nothing else embedded (the executable's own entry, the source map) is served.
  for (const name of ["st2bot", "main.js.map", "login.html", "..%2fst2bot"]) expect((await fetch(`${base}/login/assets/${name}`)).status).toBe(404);
});

test("favicon: an empty 204", async () => {
  const res = await fetch(`${base}/favicon.ico`);
  expect(res.status).toBe(204);
});

test("Host: a does not turn /login/metrics into /metrics", async () => {
  const { port } = new URL(base);
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), "127.0.0.1", () => socket.end("GET /login/metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
    let data = "";
    socket.on("data", (c) => (data += c));
    socket.on("error", reject);
    socket.on("close", () => resolve(data));
  });
  expect(answer).not.toContain("st2bot_outbox_pending");
  expect((await (await fetch(`${base}/metrics`)).text())).toContain("st2bot_outbox_pending");
});
