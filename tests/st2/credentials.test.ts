import { afterEach, describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import { ConfigError } from "../../src/lib/errors.ts";
import {
  ApiKeyProvider,
  botProvider,
  MissingCredentialProvider,
  PasswordProvider,
  providerFor,
  TokenProvider,
  type TokenIssuer,
} from "../../src/st2/credentials.ts";
import { St2ApiError } from "../../src/st2/http.ts";
import { captureLogs } from "./helpers.ts";

const KEY = "apikey-0123456789-abcd";
const TOKEN = "token-9876543210-wxyz";
const PASSWORD = "s3cret-Passw0rd";

let logs = captureLogs();
afterEach(() => {
  logs.restore();
  logs = captureLogs();
});

/** An issuer that counts calls and hands out token-1, token-2, ... valid for the ttl asked. */
function countingIssuer(now: () => number, delayMs = 0) {
  const calls: Array<{ user: string; password: string; ttl: number }> = [];
  const issue: TokenIssuer = async (user, password, ttl) => {
    calls.push({ user, password, ttl });
    if (delayMs) await Bun.sleep(delayMs);
    return { token: `issued-token-${calls.length}-padding`, expiry: new Date(now() + ttl * 1000) };
  };
  return { calls, issue };
}

const config = (auth: string) => parseConfig(`[stackstorm]\nuser_token_ttl = 3600\n${auth}`, "test.toml");

describe("the bot's credential", () => {
  test("an API key wins over a token and a password", async () => {
    const p = botProvider(config(`[stackstorm.api_auth]\napikey = "${KEY}"\ntoken = "${TOKEN}"\n[stackstorm.api_auth.user]\nname = "bot"\npassword = "${PASSWORD}"`), async () => {
      throw new Error("must not be called");
    });
    expect(await p.header()).toEqual({ "St2-Api-Key": KEY });
    expect(p.describe()).toBe("api key …abcd");
  });

  test("a token wins over a password", async () => {
    const p = botProvider(config(`[stackstorm.api_auth]\ntoken = "${TOKEN}"\n[stackstorm.api_auth.user]\nname = "bot"\npassword = "${PASSWORD}"`), async () => {
      throw new Error("must not be called");
    });
    expect(await p.header()).toEqual({ "X-Auth-Token": TOKEN });
    expect(p.describe()).toBe("token …wxyz");
  });

  test("a user and password get a token with user_token_ttl", async () => {
    const { calls, issue } = countingIssuer(Date.now);
    const p = botProvider(config(`[stackstorm.api_auth.user]\nname = "bot"\npassword = "${PASSWORD}"`), issue);
    expect(await p.header()).toEqual({ "X-Auth-Token": "issued-token-1-padding" });
    expect(calls).toEqual([{ user: "bot", password: PASSWORD, ttl: 3600 }]);
    expect(p.describe()).toBe("user bot");
  });

  test("the hubot environment variables work the same way", async () => {
    const cfg = parseConfig("", "env", { ST2_API_KEY: KEY, ST2_AUTH_TOKEN: TOKEN });
    const p = botProvider(cfg, async () => {
      throw new Error("must not be called");
    });
    expect(await p.header()).toEqual({ "St2-Api-Key": KEY });
  });

  test("no credential fails clearly when something needs StackStorm", async () => {
    const p = botProvider(config(""), async () => {
      throw new Error("must not be called");
    });
    expect(p).toBeInstanceOf(MissingCredentialProvider);
    const err = await p.header().catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain("stackstorm.api_auth.apikey");
    expect(err.message).toContain("ST2_API_KEY");
  });
});

describe("static credentials", () => {
  test("a rejected API key cannot be renewed and the log says what to do, without the key", async () => {
    const p = new ApiKeyProvider(KEY);
    expect(await p.onUnauthorized()).toBe(false);
    expect(logs.text()).toContain("cannot renew an API key");
    expect(logs.text()).toContain("stackstorm.api_auth.apikey");
    expect(logs.text()).not.toContain(KEY);
  });

  test("a rejected token must be replaced: the log says so and names its expiry", async () => {
    const p = new TokenProvider(TOKEN, new Date(Date.now() - 1000));
    expect(await p.onUnauthorized()).toBe(false);
    expect(logs.text()).toContain("cannot renew a token");
    expect(logs.text()).toContain("replace stackstorm.api_auth.token");
    expect(logs.text()).toContain("expired at");
    expect(logs.text()).not.toContain(TOKEN);
  });

  test("describe never shows a short secret at all", () => {
    expect(new TokenProvider("abcd1234").describe()).toBe("token (hidden)");
    expect(providerFor({ kind: "apikey", apikey: "k".repeat(20) + "LAST" }).describe()).toBe("api key …LAST");
  });

  test("registered secrets are masked in every later log line", async () => {
    const fresh = `fresh-key-${crypto.randomUUID()}`;
    new ApiKeyProvider(fresh);
    const { logger } = await import("../../src/lib/log.ts");
    logger("test").warn(`oops ${fresh}`, { detail: `x ${fresh}` });
    expect(logs.text()).toContain("oops ***");
    expect(logs.text()).not.toContain(fresh);
  });
});

describe("username and password", () => {
  test("renews at 90% of the token's lifetime, not before", async () => {
    let t = 1_000_000;
    const now = () => t;
    const { calls, issue } = countingIssuer(now);
    const p = new PasswordProvider({ username: "bot", password: PASSWORD, ttlSeconds: 1000, issue, now });
    expect(await p.header()).toEqual({ "X-Auth-Token": "issued-token-1-padding" });
    t += 899_000;
    expect(await p.header()).toEqual({ "X-Auth-Token": "issued-token-1-padding" });
    t += 2_000;
    expect(await p.header()).toEqual({ "X-Auth-Token": "issued-token-2-padding" });
    expect(calls.length).toBe(2);
  });

  test("renews when less than 60 s are left even before 90%", async () => {
    let t = 0;
    const now = () => t;
    const { calls, issue } = countingIssuer(now);
    const p = new PasswordProvider({ username: "bot", password: PASSWORD, ttlSeconds: 100, issue, now });
    await p.header();
    t = 39_000;
    await p.header();
    expect(calls.length).toBe(1);
    t = 41_000;
    await p.header();
    expect(calls.length).toBe(2);
  });

  test("concurrent callers share one renewal", async () => {
    const { calls, issue } = countingIssuer(Date.now, 30);
    const p = new PasswordProvider({ username: "bot", password: PASSWORD, ttlSeconds: 3600, issue });
    const headers = await Promise.all(Array.from({ length: 10 }, () => p.header()));
    expect(calls.length).toBe(1);
    expect(new Set(headers.map((h) => h["X-Auth-Token"]))).toEqual(new Set(["issued-token-1-padding"]));
    const renewed = await Promise.all(Array.from({ length: 5 }, () => p.onUnauthorized(headers[0])));
    expect(renewed).toEqual([true, true, true, true, true]);
    expect(calls.length).toBe(2);
  });

  test("a 401 for a request sent with an older token reuses the newer one", async () => {
    const { calls, issue } = countingIssuer(Date.now);
    const p = new PasswordProvider({ username: "bot", password: PASSWORD, ttlSeconds: 3600, issue });
    const first = await p.header();
    expect(await p.onUnauthorized(first)).toBe(true);
    expect(calls.length).toBe(2);
    expect(await p.onUnauthorized(first)).toBe(true);
    expect(calls.length).toBe(2);
    expect(await p.header()).toEqual({ "X-Auth-Token": "issued-token-2-padding" });
  });

  test("a refused renewal returns false and logs why, without the password", async () => {
    const p = new PasswordProvider({
      username: "bot",
      password: PASSWORD,
      ttlSeconds: 3600,
      issue: async () => {
        throw new St2ApiError(401, "Invalid or missing credentials", "POST", "/auth/v1/tokens");
      },
    });
    expect(await p.onUnauthorized()).toBe(false);
    const err = await p.header().catch((e) => e);
    expect(err).toBeInstanceOf(St2ApiError);
    expect(err.faultstring).toBe("Invalid or missing credentials");
    expect(logs.text()).toContain("could not renew the StackStorm token for user bot");
    expect(logs.text()).toContain("Invalid or missing credentials");
    expect(logs.text()).not.toContain(PASSWORD);
  });
});
