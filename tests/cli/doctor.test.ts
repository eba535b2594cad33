import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runDoctor } from "../../src/cli/doctor.ts";
import { parseConfig } from "../../src/config/load.ts";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { assertNoViolations, startTestEmulator, type TestEmulator } from "../support/emulator.ts";

let emulator: TestEmulator;
let dir: string;
beforeAll(async () => {
  emulator = await startTestEmulator({ aliases: [...sampleAliases, { name: "broken", pack: "bad", action_ref: "core.local", formats: ["oops (unclosed {{x}}"] }], actions: sampleActions, apiKeys: ["doctor-key-123456"] });
  dir = mkdtempSync(join(tmpdir(), "st2bot-doctor-"));
});
afterAll(async () => {
  await emulator.stop();
  rmSync(dir, { recursive: true, force: true });
});

const config = (extra: string) =>
  parseConfig(
    `[bot]\ndata_dir = "${dir}"\n[stackstorm]\napi_url = "${emulator.apiUrl}"\nauth_url = "${emulator.authUrl}"\nstream_url = "${emulator.streamUrl}"\n${extra}`,
    "st2bot.toml",
    {},
  );

async function doctor(extra: string): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await runDoctor(config(extra), { stdout: (s) => void (out += s) });
  return { code, out };
}

test("a healthy setup passes, and a broken alias format is reported with its ref", async () => {
  const { code, out } = await doctor('[stackstorm.api_auth]\napikey = "doctor-key-123456"\n[webhook]\ntoken = "hook-token-1234"\n');
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
      `stream_url = "${emulator.streamUrl}"\n[stackstorm.api_auth]\napikey = "doctor-key-123456"\n[webhook]\ntoken = "hook-token-1234"\n` +
      `[mattermost]\nurl = "http://127.0.0.1:1"\ntoken = "mm-token-123456"\n`,
    "st2bot.toml",
    {},
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
  expect(wrong.out).toMatch(/✗ StackStorm API: .*Unauthorized/);
  expect(wrong.out).toContain("the credential is wrong or expired");
  expect(wrong.out).not.toContain("wrong-key-000000");
  const none = await doctor("");
  expect(none.out).toContain("✗ no StackStorm credentials for the bot");
});

test("an unreachable StackStorm and a half-configured chat backend", async () => {
  let out = "";
  const cfg = parseConfig(`[bot]\nbackend = "slack"\ndata_dir = "${dir}"\n[stackstorm]\napi_url = "http://127.0.0.1:1/api/v1"\n[stackstorm.api_auth]\napikey = "k-123456"\n`, "c.toml", {});
  const code = await runDoctor(cfg, { stdout: (s) => void (out += s) });
  expect(code).toBe(1);
  expect(out).toContain('✗ chat backend "slack" is missing settings');
  expect(out).toContain("slack.bot_token");
  expect(out).toMatch(/✗ StackStorm API: .*unreachable/);
  expect(out).toContain("check stackstorm.api_url");
});

test("st2chatops URLs without /v1: doctor says which URL it uses, and every check passes against it", async () => {
  let out = "";
  const cfg = parseConfig(
    `[bot]\ndata_dir = "${dir}"\n[webhook]\ntoken = "hook-token-1234"\n`,
    "st2bot.toml",
    { ST2_API_URL: `${emulator.url}/api`, ST2_AUTH_URL: `${emulator.url}/auth`, ST2_STREAM_URL: `${emulator.url}/stream`, ST2_API_KEY: "doctor-key-123456" },
  );
  const code = await runDoctor(cfg, { stdout: (s) => void (out += s) });
  expect(out).toContain(`✓ stackstorm.api_url: using ${emulator.apiUrl} (given ${emulator.url}/api; /v1 appended, as hubot-stackstorm does)`);
  expect(out).toContain(`✓ stackstorm.stream_url: using ${emulator.streamUrl}`);
  expect(out).toContain("✓ StackStorm stream");
  expect(code).toBe(0);
});
