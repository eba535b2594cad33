/**
 * The log's redaction list cannot be poisoned from chat or the login page (issue 10, item 4):
 * text a user merely submits is never masked, a credential StackStorm accepted is masked until
 * it is forgotten, and the users' part of the list is bounded while the bot's own secrets stay.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Identities, type LoginRequest } from "../../src/auth/identity.ts";
import { CleartextStore } from "../../src/auth/secrets.ts";
import { Sessions } from "../../src/auth/sessions.ts";
import { parseConfig } from "../../src/config/load.ts";
import { logger, MAX_REMEMBERED_SECRETS, redact, registerSecret, rememberSecret, forgetSecret, secretCounts } from "../../src/lib/log.ts";
import { St2Client } from "../../src/st2/client.ts";
import { openDatabase } from "../../src/store/db.ts";
import { startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import { captureLogs } from "../st2/helpers.ts";

const BOT_KEY = "redaction-bot-api-key-0123456789";
const ALICE_KEY = "redaction-alice-api-key-0123456789";
const WORD = "plum-shared-word";
const SLOW = 30_000;

let emulator: TestEmulator;
let identities: Identities;

beforeAll(async () => {
  emulator = await startTestEmulator({ users: { st2admin: "Ch@ngeMe", alice: "alice-real-password-1" }, apiKeys: { [BOT_KEY]: "st2admin", [ALICE_KEY]: "alice" } });
  const config = parseConfig(
    `[stackstorm]
api_url = "${emulator.apiUrl}"
auth_url = "${emulator.authUrl}"
stream_url = "${emulator.streamUrl}"
[stackstorm.api_auth]
apikey = "${BOT_KEY}"
[stackstorm.rbac_auth.clientside]
url = "https://chatops.example.com/"`,
    "<test>",
    {},
  );
  identities = new Identities(config, St2Client.fromConfig(config), new CleartextStore(), new Sessions(openDatabase(":memory:"), 600_000));
});

afterAll(() => emulator.stop());

/** A login on a fresh link for `user` with `req`'s credential. */
type Submitted = LoginRequest extends infer R ? (R extends LoginRequest ? Omit<R, "shared_word"> : never) : never;
async function login(user: string, req: Submitted) {
  const id = await identities.sessions.start(user, WORD);
  return identities.login(id, { shared_word: WORD, ...req } as LoginRequest);
}

/** The line `bot.acl` would write for `text`, as the log would show it. */
function logged(text: string): string {
  const logs = captureLogs();
  try {
    logger("bot.acl").info(`command ${text}`, { user: `@${text}` });
    return logs.text();
  } finally {
    logs.restore();
  }
}

describe("what a user submits is not masked until StackStorm accepts it", () => {
  test("a refused password, token or API key leaves the word visible in every log line", async () => {
    expect((await login("memory:mallory", { kind: "password", username: "alice", password: "command" })).ok).toBe(false);
    expect((await login("memory:mallory", { kind: "apikey", apikey: "deploy" })).ok).toBe(false);
    expect((await login("memory:mallory", { kind: "token", token: "restart" })).ok).toBe(false);
    expect((await login("memory:mallory", { kind: "password", username: "nobody", password: "alice" })).ok).toBe(false);
    const line = logged("command deploy restart alice");
    expect(line).toContain('command command deploy restart alice {"user":"@command deploy restart alice"}');
    expect(line).not.toContain("***");
  }, SLOW);

  test("an accepted credential is masked, and no longer once it is forgotten", async () => {
    expect((await login("memory:alice", { kind: "apikey", apikey: ALICE_KEY })).ok).toBe(true);
    expect(logged(ALICE_KEY)).not.toContain(ALICE_KEY);
    // The password of a successful login is used once and forgotten: it never needs masking.
    expect((await login("memory:alice2", { kind: "password", username: "alice", password: "alice-real-password-1" })).ok).toBe(true);
    const token = (await identities.store.get("memory:alice2"))!;
    expect(token.kind).toBe("token");
    const tokenText = token.kind === "token" ? token.token : "";
    expect(redact(tokenText)).toBe("***");
    expect(logged("alice-real-password-1")).toContain("alice-real-password-1");

    expect(await identities.forget("memory:alice")).toBe(true);
    expect(await identities.forget("memory:alice2")).toBe(true);
    expect(logged(ALICE_KEY)).toContain(ALICE_KEY);
    expect(redact(tokenText)).toBe(tokenText);
  }, SLOW);
});

describe("the list is bounded", () => {
  test("past the cap the least recently used user secret goes; the bot's own never do", () => {
    const bot = "bot-own-secret-never-evicted-0001";
    registerSecret(bot);
    const first = "user-secret-0000000-first";
    const kept = "user-secret-0000001-kept";
    rememberSecret(first);
    rememberSecret(kept);
    for (let i = 0; i < MAX_REMEMBERED_SECRETS; i++) {
      rememberSecret(`filler-secret-${i}-xxxxxxxx`);
      // Used again now and then: a secret in use stays masked.
      if (i % 100 === 0) rememberSecret(kept);
    }
    expect(secretCounts().remembered).toBeLessThanOrEqual(MAX_REMEMBERED_SECRETS);
    expect(redact(first)).toBe(first);
    expect(redact(kept)).toBe("***");
    expect(redact(bot)).toBe("***");
    // Forgetting cannot unmask a bot secret.
    rememberSecret(bot);
    forgetSecret(bot);
    expect(redact(bot)).toBe("***");
  });
});
