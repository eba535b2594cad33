import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { runDoctor } from "../../src/cli/doctor.ts";
import { checkUrls } from "../../src/cli/doctor-st2.ts";
import { captureLogs } from "../../src/lib/log.ts";
import { parseConfig } from "../../src/config/load.ts";
import { BACKEND_SECTIONS } from "../../src/chat/registry.ts";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { assertNoViolations, startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import { tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();

let emulator: TestEmulator;
let dir: string;
beforeAll(async () => {
  emulator = await startTestEmulator({ aliases: [...sampleAliases, { name: "broken", pack: "bad", action_ref: "core.local", formats: ["oops (unclosed {{x}}"] }], actions: sampleActions, apiKeys: ["doctor-key-123456"] });
  dir = tmp("doctor");
});
afterAll(async () => {
  await emulator.stop();
});

const config = (extra: string) =>
  parseConfig(
    `[bot]\ndata_dir = "${dir}"\n[stackstorm]\napi_url = "${emulator.apiUrl}"\nauth_url = "${emulator.authUrl}"\nstream_url = "${emulator.streamUrl}"\n${extra}`,
    "st2bot.toml",
    {},
    BACKEND_SECTIONS,
  );

async function doctor(extra: string): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await runDoctor(config(extra), { stdout: (s) => void (out += s) });
  return { code, out };
}

test("a healthy setup passes, and a broken alias format is reported with its ref", async () => {
  const { code, out } = await doctor('[stackstorm.api_auth]\napikey = "doctor-key-123456"\n[webhook]\ntoken = "hook-token-1234-0123456789abcdef0123"\n');
  expect(out).toContain(`✓ StackStorm API ${emulator.apiUrl} answers and accepts the credential (${sampleAliases.length + 1} action aliases)`);
  expect(out).toContain("✓ StackStorm stream");
  expect(out).toContain('✓ rule chatops.notify-errbot sends results for route "errbot"');
  expect(out).toMatch(/! alias bad\.broken: format "oops \(unclosed \{\{x\}\}" cannot be used: /);
  expect(out).not.toContain("doctor-key-123456");
  expect(code).toBe(0);
  assertNoViolations(emulator);
});

test("mattermost without a team is a warning, not a failure: a bot in one team uses it", async () => {
  let out = "";
  const cfg = parseConfig(
    `[bot]\nbackend = "mattermost"\ndata_dir = "${dir}"\n[stackstorm]\napi_url = "${emulator.apiUrl}"\nauth_url = "${emulator.authUrl}"\n` +
      `stream_url = "${emulator.streamUrl}"\n[stackstorm.api_auth]\napikey = "doctor-key-123456"\n[webhook]\ntoken = "hook-token-1234-0123456789abcdef0123"\n` +
      `[mattermost]\nurl = "http://127.0.0.1:1"\ntoken = "mm-token-123456"\n`,
    "st2bot.toml",
    {},
    BACKEND_SECTIONS,
  );
  const code = await runDoctor(cfg, { stdout: (s) => void (out += s) });
  expect(out).toContain('✓ chat backend "mattermost" is configured');
  expect(out).toContain("! mattermost.team is not set");
  expect(out).not.toContain("mm-token-123456");
  expect(code).toBe(0);
});

test("a route no rule serves: acks arrive but results never will", async () => {
  const { code, out } = await doctor('route_key = "nobody"\n[stackstorm.api_auth]\napikey = "doctor-key-123456"\n');
  expect(out).toContain('✗ no enabled StackStorm rule sends results for route "nobody"');
  expect(out).toContain("st2bot rule");
  expect(code).toBe(1);
});

test("wrong credentials and no credentials are errors with a fix", async () => {
  const wrong = await doctor('[stackstorm.api_auth]\napikey = "wrong-key-000000"\n');
  expect(wrong.code).toBe(1);
  expect(wrong.out).toContain(`✗ StackStorm answered 401 at ${emulator.apiUrl}/actionalias (Unauthorized`);
  expect(wrong.out).toContain("it refused the api key …0000");
  expect(wrong.out).toContain("the credential is wrong, expired or revoked: replace it");
  expect(wrong.out).not.toContain("wrong-key-000000");
  const none = await doctor("");
  expect(none.out).toContain("✗ no StackStorm credential for the bot (st2bot run refuses to start without one)");
});

test("an unreachable StackStorm and a half-configured chat backend", async () => {
  let out = "";
  const cfg = parseConfig(`[bot]\nbackend = "slack"\ndata_dir = "${dir}"\n[stackstorm]\napi_url = "http://127.0.0.1:1/api/v1"\n[stackstorm.api_auth]\napikey = "k-123456"\n`, "c.toml", {}, BACKEND_SECTIONS);
  const code = await runDoctor(cfg, { stdout: (s) => void (out += s) });
  expect(code).toBe(1);
  expect(out).toContain('✗ chat backend "slack" is missing settings');
  expect(out).toContain("slack.bot_token");
  expect(out).toContain("✗ no answer from http://127.0.0.1:1/api/v1/actionalias: StackStorm unreachable at 127.0.0.1:1 (ECONNREFUSED)");
  expect(out).toContain("check stackstorm.api_url");
});

test("st2chatops URLs without /v1: doctor says which URL it uses, and every check passes against it", async () => {
  let out = "";
  const cfg = parseConfig(
    `[bot]\ndata_dir = "${dir}"\n[webhook]\ntoken = "hook-token-1234-0123456789abcdef0123"\n`,
    "st2bot.toml",
    { ST2_API_URL: `${emulator.url}/api`, ST2_AUTH_URL: `${emulator.url}/auth`, ST2_STREAM_URL: `${emulator.url}/stream`, ST2_API_KEY: "doctor-key-123456" },
  );
  const code = await runDoctor(cfg, { stdout: (s) => void (out += s) });
  expect(out).toContain(`✓ stackstorm.api_url: using ${emulator.apiUrl} (given ${emulator.url}/api; /v1 appended, as hubot-stackstorm does)`);
  expect(out).toContain(`✓ stackstorm.stream_url: using ${emulator.streamUrl}`);
  expect(out).toContain("✓ StackStorm stream");
  expect(code).toBe(0);
});

/** A web server that is not StackStorm, like `python3 -m http.server`: 404 (or 200 HTML) for everything. */
function notStackStorm(status: number): Server<undefined> {
  return Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("<html>nope</html>", { status, headers: { "content-type": "text/html" } }) });
}

async function doctorWith(toml: string, env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  let out = "";
  const cfg = parseConfig(`[bot]\ndata_dir = "${dir}"\n[webhook]\ntoken = "hook-token-1234-0123456789abcdef0123"\n${toml}`, "st2bot.toml", { ST2_API_KEY: "doctor-key-123456", ...env });
  const code = await runDoctor(cfg, { stdout: (s) => void (out += s) });
  return { code, out };
}

describe("doctor does not say ✓ when it is wrong", () => {
  test("a stream URL served by something else: 404, or 200 that is not an event stream, is a ✗ naming URL and status", async () => {
    for (const [status, expected] of [
      [404, (u: string) => `✗ StackStorm answered 404 at ${u}/v1/stream (Not Found)`],
      [200, (u: string) => `✗ ${u}/v1/stream answered 200 with text/html, not an event stream (text/event-stream)`],
    ] as const) {
      const other = notStackStorm(status);
      const url = `http://127.0.0.1:${other.port}`;
      try {
        const r = await doctorWith(`[stackstorm]\napi_url = "${emulator.apiUrl}"\nauth_url = "${emulator.authUrl}"\nstream_url = "${url}"\n`);
        expect(r.out).not.toContain("✓ StackStorm stream");
        expect(r.out).toContain(expected(url));
        expect(r.code).toBe(1);
      } finally {
        other.stop(true);
      }
    }
  });

  test("an API URL that answers 404 says so with the URL and where StackStorm's API is", async () => {
    const other = notStackStorm(404);
    try {
      const r = await doctorWith(`[stackstorm]\napi_url = "http://127.0.0.1:${other.port}/st2"\n`);
      expect(r.out).toContain(`✗ StackStorm answered 404 at http://127.0.0.1:${other.port}/st2/v1/actionalias (Not Found)`);
      expect(r.out).toContain("→ is stackstorm.api_url right? StackStorm answers at https://HOST/api/v1");
      expect(r.code).toBe(1);
    } finally {
      other.stop(true);
    }
  });

  test("https:// to a server that speaks plain HTTP is named as such", async () => {
    const r = await doctorWith(`[stackstorm]\napi_url = "${emulator.apiUrl.replace("http:", "https:")}"\n`);
    expect(r.out).toContain(`✗ ${emulator.apiUrl.replace("http:", "https:")}/actionalias: the server answered in plain HTTP to an https:// URL`);
    expect(r.out).toContain("→ use http:// in stackstorm.api_url, or the port where StackStorm serves TLS");
  });

  test("a secrets key run would refuse fails doctor too (the same check)", async () => {
    const r = await doctorWith(
      `[stackstorm]\napi_url = "${emulator.apiUrl}"\nauth_url = "${emulator.authUrl}"\nstream_url = "${emulator.streamUrl}"\n[stackstorm.rbac_auth.clientside]\nurl = "https://bot.example.com/"\n[secrets]\nkey_env = "DOCTOR_TEST_KEY"\n`,
      {},
    );
    expect(r.out).toContain("✗ the encrypted secrets store's key: the encrypted secrets store needs a key");
    process.env.DOCTOR_TEST_KEY = "short";
    try {
      const short = await doctorWith(`[stackstorm.rbac_auth.clientside]\nurl = "https://bot.example.com/"\n[secrets]\nkey_env = "DOCTOR_TEST_KEY"\n`);
      expect(short.out).toContain("✗ the encrypted secrets store's key: $DOCTOR_TEST_KEY: the secrets key must be 32 bytes");
      expect(short.code).toBe(1);
      process.env.DOCTOR_TEST_KEY = Buffer.from(new Uint8Array(32).fill(7)).toString("base64");
      expect((await doctorWith(`[stackstorm.rbac_auth.clientside]\nurl = "https://bot.example.com/"\n[secrets]\nkey_env = "DOCTOR_TEST_KEY"\n`)).out).toContain("✓ secrets key from $DOCTOR_TEST_KEY is a valid 32-byte key");
    } finally {
      delete process.env.DOCTOR_TEST_KEY;
    }
  });

  test("runtime log lines do not interleave with the checklist: they show as details under the ✗", async () => {
    const outside: string[] = [];
    const restore = captureLogs((l) => outside.push(l), "debug");
    let r;
    try {
      r = await doctor('[stackstorm.api_auth]\napikey = "wrong-key-000000"\n');
    } finally {
      restore();
    }
    expect(outside).toEqual([]);
    expect(r.out).toMatch(/✗ StackStorm answered 401 at .*\n    → .*\n    · ERROR st2\.client: StackStorm refused the bot's api key …0000/);
  });

  test("two rules serving the route (StackStorm's stock one and st2bot's) are a warning: results would be posted twice", async () => {
    const rule = (name: string) => ({ ref: `chatops.${name}`, name, pack: "chatops", enabled: true, trigger: { type: "core.st2.generic.notifytrigger" }, criteria: { "trigger.route": { pattern: "errbot", type: "equals" } }, action: { ref: "chatops.post_result" } });
    const two = await startTestEmulator({ aliases: sampleAliases, actions: sampleActions, apiKeys: ["doctor-key-123456"], rules: [rule("notify-errbot"), rule("notify_errbot")] });
    try {
      const r = await doctorWith(`[stackstorm]\napi_url = "${two.apiUrl}"\nauth_url = "${two.authUrl}"\nstream_url = "${two.streamUrl}"\n`);
      expect(r.out).toContain('! 2 enabled rules send results for route "errbot" (chatops.notify-errbot, chatops.notify_errbot): every result is posted 2 times');
      expect(r.out).toContain("→ keep one: st2 rule disable chatops.notify_errbot");
    } finally {
      await two.stop();
    }
  });
});

test("plain http:// to another host is a warning (verify_cert does not apply); verify_cert = false with only http:// URLs too", () => {
  const remote = checkUrls(parseConfig('[stackstorm]\napi_url = "http://st2.example.com/api"\n', "c", {}));
  expect(remote.map((c) => c.verdict)).toEqual(["warn", "warn", "warn"]);
  expect(remote[0]!.what).toBe("stackstorm.api_url http://st2.example.com/api/v1 is plain http:// to st2.example.com: verify_cert does not apply and the bot's credential crosses the network unencrypted");
  expect(remote[2]!.what).toStartWith("stackstorm.stream_url http://st2.example.com/stream/v1 is plain http://");
  const local = 'api_url = "http://127.0.0.1:9101"\nauth_url = "http://127.0.0.1:9100"\nstream_url = "http://127.0.0.1:9102"\n';
  expect(checkUrls(parseConfig(`[stackstorm]\n${local}`, "c", {}))).toEqual([]);
  expect(checkUrls(parseConfig(`[stackstorm]\n${local}verify_cert = false\n`, "c", {})).map((c) => c.what)).toEqual(["stackstorm.verify_cert = false has no effect: every StackStorm URL is http://"]);
});
