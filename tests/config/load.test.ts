import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { botCredential, derivedUrls, loadConfig, parseConfig } from "../../src/config/load.ts";
import { CONFIG_TEMPLATE } from "../../src/config/template.ts";
import { ConfigError } from "../../src/lib/errors.ts";
import { redact } from "../../src/lib/log.ts";
import * as v from "valibot";
import { tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();

const errorOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("expected a ConfigError");
};

describe("config defaults", () => {
  test("an empty file gives err-stackstorm's defaults", () => {
    const c = parseConfig("", "st2bot.toml");
    expect(c.stackstorm.api_url).toBe("https://localhost/api/v1");
    expect(c.stackstorm.auth_url).toBe("https://localhost/auth/v1");
    expect(c.stackstorm.stream_url).toBe("https://localhost/stream/v1");
    expect(c.stackstorm.route_key).toBe("errbot");
    expect(c.stackstorm.plugin_prefix).toBe("st2");
    expect(c.stackstorm.timer_update).toBe(900);
    expect(c.stackstorm.session_ttl).toBe(3600);
    expect(c.stackstorm.user_token_ttl).toBe(86400);
    expect(c.stackstorm.verify_cert).toBe(true);
    expect(c.stackstorm.secrets_store).toBe("encrypted");
    expect(c.bot.prefix).toBe("!");
    expect(c.web.host).toBe("127.0.0.1");
    expect(botCredential(c)).toEqual({ kind: "none" });
  });

  test("the init template parses and equals the defaults", () => {
    const fromTemplate = parseConfig(CONFIG_TEMPLATE, "template.toml");
    const defaults = parseConfig("", "empty.toml");
    expect(fromTemplate.stackstorm).toEqual(defaults.stackstorm);
    expect(fromTemplate.bot).toEqual(defaults.bot);
  });
});

describe("bad config names the file, line and key", () => {
  test("TOML syntax error: file:line:column", () => {
    expect(errorOf(() => parseConfig("[bot]\nprefix = \"!\"\nname = \n", "bad.toml"))).toMatch(/^bad\.toml:3:\d+: invalid TOML/);
  });

  test("unknown key with a suggestion", () => {
    const msg = errorOf(() => parseConfig("[stackstorm]\napi_url = \"https://st2/api/v1\"\nroute_kye = \"x\"\n", "st2bot.toml"));
    expect(msg).toBe('st2bot.toml:3: unknown key "stackstorm.route_kye" (did you mean "route_key"?)');
  });

  test("unknown table", () => {
    expect(errorOf(() => parseConfig("[stakstorm]\napi_url = \"x\"\n", "c.toml"))).toBe('c.toml:1: unknown key "stakstorm" (did you mean "stackstorm"?)');
    // Swapped letters count as one edit each (lib/distance), as in chat's suggestions: Levenshtein said 4.
    expect(errorOf(() => parseConfig('[bot]\nrpefxi = "!"\n', "c.toml"))).toBe('c.toml:2: unknown key "bot.rpefxi" (did you mean "prefix"?)');
  });

  test("wrong type names the key path and line", () => {
    expect(errorOf(() => parseConfig("\n[stackstorm]\ntimer_update = \"soon\"\n", "c.toml"))).toMatch(/^c\.toml:3: stackstorm\.timer_update: .*number/);
  });

  test("bad URL", () => {
    expect(errorOf(() => parseConfig("[stackstorm]\napi_url = \"not a url\"\n", "c.toml"))).toMatch(/^c\.toml:2: stackstorm\.api_url: must be a URL/);
  });

  test("ACL keys with spaces and unknown rule fields", () => {
    const msg = errorOf(() => parseConfig('[access_controls."st2 apu status*"]\nallowrooms = ["#c"]\nallowuser = ["@a"]\n', "c.toml"));
    expect(msg).toBe('c.toml:3: unknown key "access_controls.st2 apu status*.allowuser" (did you mean "allowusers"?)');
  });

  test("both rbac modes at once is an error", () => {
    const text = "[stackstorm.rbac_auth.standalone]\n[stackstorm.rbac_auth.clientside]\nurl = \"https://bot.example.com/\"\n";
    expect(errorOf(() => parseConfig(text, "c.toml"))).toMatch(/choose one of "standalone" and "clientside"/);
  });

  test("a missing file is a clear error", () => {
    expect(errorOf(() => loadConfig("/nonexistent/st2bot.toml"))).toMatch(/\/nonexistent\/st2bot\.toml: cannot read the config file \(ENOENT\)/);
  });
});

describe("credentials", () => {
  test("precedence: API key, then token, then user/password", () => {
    const base = '[stackstorm.api_auth.user]\nname = "bot"\npassword = "pw"\n';
    expect(botCredential(parseConfig(base, "c"))).toEqual({ kind: "password", username: "bot", password: "pw" });
    expect(botCredential(parseConfig(`[stackstorm.api_auth]\ntoken = "t0k"\n${base}`, "c"))).toEqual({ kind: "token", token: "t0k" });
    expect(botCredential(parseConfig(`[stackstorm.api_auth]\ntoken = "t0k"\napikey = "k3y"\n${base}`, "c"))).toEqual({ kind: "apikey", apikey: "k3y" });
  });

  test("hubot-stackstorm's environment variables override the file", () => {
    const c = parseConfig('[stackstorm]\napi_url = "https://file/api/v1"\nroute_key = "file"\n', "c", {
      ST2_API_URL: "https://env/api/v1",
      ST2_AUTH_URL: "https://env/auth/v1",
      ST2_STREAM_URL: "https://env/stream/v1",
      ST2_API_KEY: "envkey",
      ST2_ROUTE: "hubot",
      ST2_AUTH_USERNAME: "u",
      ST2_AUTH_PASSWORD: "p",
      ST2_AUTH_TOKEN: "tok",
    });
    expect(c.stackstorm.api_url).toBe("https://env/api/v1");
    expect(c.stackstorm.auth_url).toBe("https://env/auth/v1");
    expect(c.stackstorm.stream_url).toBe("https://env/stream/v1");
    expect(c.stackstorm.route_key).toBe("hubot");
    expect(c.stackstorm.api_auth.user).toEqual({ name: "u", password: "p" });
    expect(botCredential(c)).toEqual({ kind: "apikey", apikey: "envkey" });
  });

  test("ST2BOT_LOG_LEVEL overrides bot.log_level like every other variable; a mistyped one is refused", () => {
    expect(parseConfig('[bot]\nlog_level = "error"\n', "c", { ST2BOT_LOG_LEVEL: "debug" }).bot.log_level).toBe("debug");
    expect(parseConfig('[bot]\nlog_level = "warn"\n', "c", {}).bot.log_level).toBe("warn");
    expect(() => parseConfig("", "c", { ST2BOT_LOG_LEVEL: "DEBUG" })).toThrow('ST2BOT_LOG_LEVEL: "DEBUG" is not a log level; use debug, info, warn or error');
  });

  test("secrets from files, relative to the config file", () => {
    const dir = tmp("cfg");
    writeFileSync(join(dir, "pw"), "s3cret\n");
    writeFileSync(join(dir, "st2bot.toml"), '[stackstorm.api_auth.user]\nname = "bot"\npassword_file = "pw"\n');
    const c = loadConfig(join(dir, "st2bot.toml"), {});
    expect(c.stackstorm.api_auth.user?.password).toBe("s3cret");
  });

  test("an unreadable secret file names the key and the line", () => {
    const msg = errorOf(() => parseConfig('[webhook]\n\ntoken_file = "/nonexistent/token"\n', "/tmp/c.toml", {}));
    expect(msg).toBe('/tmp/c.toml:3: webhook.token_file: cannot read "/nonexistent/token" (ENOENT)');
  });

  test("giving a secret and its file is an error", () => {
    expect(errorOf(() => parseConfig('[webhook]\ntoken = "a"\ntoken_file = "b"\n', "c.toml", {}))).toMatch(/give either webhook\.token or webhook\.token_file/);
  });
});

describe("chat backends' tables, handed in by the loader's caller", () => {
  // A stand-in for a backend's settings.ts: config itself names no backend.
  const sections = {
    chatty: v.strictObject({ url: v.optional(v.string()), token: v.optional(v.string()), token_file: v.optional(v.string()), room: v.optional(v.string(), "ops") }),
  };

  test("a table handed in is validated and its defaults filled, present or not", () => {
    expect(parseConfig("", "c.toml", {}, sections).chatty).toEqual({ room: "ops" });
    expect(parseConfig('[chatty]\nurl = "https://chat"\n', "c.toml", {}, sections).chatty).toEqual({ url: "https://chat", room: "ops" });
  });

  test("an unknown key in it names the file, line and key, with a suggestion", () => {
    const msg = errorOf(() => parseConfig('[chatty]\nurl = "https://chat"\ntokn = "x"\n', "c.toml", {}, sections));
    expect(msg).toBe('c.toml:3: unknown key "chatty.tokn" (did you mean "token"?)');
  });

  test("a misspelt table name is suggested among the backends' tables too", () => {
    expect(errorOf(() => parseConfig("[chaty]\n", "c.toml", {}, sections))).toBe('c.toml:1: unknown key "chaty" (did you mean "chatty"?)');
    // Without the backends handed in, their tables are unknown: nothing is accepted unchecked.
    expect(errorOf(() => parseConfig("[chatty]\n", "c.toml"))).toBe('c.toml:1: unknown key "chatty"');
  });

  test("x_file works in a backend's table, and the secret is redacted from then on", () => {
    const dir = tmp("cfg");
    const secret = `chatty-${crypto.randomUUID()}`;
    writeFileSync(join(dir, "token"), `${secret}\n`);
    writeFileSync(join(dir, "st2bot.toml"), '[chatty]\ntoken_file = "token"\n');
    expect(loadConfig(join(dir, "st2bot.toml"), {}, sections).chatty).toMatchObject({ token: secret });
    expect(redact(`sent ${secret}`)).toBe("sent ***");
  });

  test("every secret of st2bot's own tables is redacted once parsed, with no list to keep", () => {
    const [key, hook] = [`k-${crypto.randomUUID()}`, `h-${crypto.randomUUID()}`];
    parseConfig(`[stackstorm.api_auth]\napikey = "${key}"\n[webhook]\nhmac_secret = "${hook}"\n[web]\nhost = "host-not-secret"\n`, "c.toml");
    expect(redact(`${key} ${hook} host-not-secret`)).toBe("*** *** host-not-secret");
  });
});

describe("StackStorm URLs: hubot's form and err-stackstorm's both work", () => {
  test("in the TOML: a path without /v1 gets it appended, once; …/api/v1 stays", () => {
    const c = parseConfig('[stackstorm]\napi_url = "https://st2.example.com/api"\nauth_url = "http://127.0.0.1:9100/"\nstream_url = "https://st2.example.com/stream/v1/"\n', "c.toml", {});
    expect(c.stackstorm.api_url).toBe("https://st2.example.com/api/v1");
    expect(c.stackstorm.auth_url).toBe("http://127.0.0.1:9100/v1");
    expect(c.stackstorm.stream_url).toBe("https://st2.example.com/stream/v1");
    expect(derivedUrls(c)).toEqual([
      { key: "api_url", given: "https://st2.example.com/api", used: "https://st2.example.com/api/v1" },
      { key: "auth_url", given: "http://127.0.0.1:9100/", used: "http://127.0.0.1:9100/v1" },
    ]);
  });

  test("in the environment: st2chatops.env's values", () => {
    const c = parseConfig("", "c", { ST2_API_URL: "https://st2/api", ST2_AUTH_URL: "https://st2/auth", ST2_STREAM_URL: "https://st2/stream" });
    expect([c.stackstorm.api_url, c.stackstorm.auth_url, c.stackstorm.stream_url]).toEqual(["https://st2/api/v1", "https://st2/auth/v1", "https://st2/stream/v1"]);
  });

  test("the defaults and err-stackstorm's three URLs are not reported as derived", () => {
    expect(derivedUrls(parseConfig("", "c", {}))).toEqual([]);
    const all = { ST2_API_URL: "https://env/api/v1", ST2_AUTH_URL: "https://env/auth/v1", ST2_STREAM_URL: "https://env/stream/v1" };
    expect(derivedUrls(parseConfig("", "c", all))).toEqual([]);
  });

  test("only the API URL given: auth and stream are inferred from it, as hubot-stackstorm does", () => {
    const behindNginx = parseConfig("", "c", { ST2_API_URL: "https://st2.example.com/api" });
    expect([behindNginx.stackstorm.auth_url, behindNginx.stackstorm.stream_url]).toEqual(["https://st2.example.com/auth/v1", "https://st2.example.com/stream/v1"]);
    expect(derivedUrls(behindNginx).map((d) => [d.key, d.given])).toEqual([["auth_url", undefined], ["stream_url", undefined], ["api_url", "https://st2.example.com/api"]]);
    const direct = parseConfig('[stackstorm]\napi_url = "http://10.0.0.5:9101"\nstream_url = "http://10.0.0.6:9102/v1"\n', "c", {});
    expect([direct.stackstorm.api_url, direct.stackstorm.auth_url, direct.stackstorm.stream_url]).toEqual(["http://10.0.0.5:9101/v1", "http://10.0.0.5:9100/v1", "http://10.0.0.6:9102/v1"]);
    // Another shape says nothing about where auth and stream are: the defaults stay (doctor checks them).
    expect(parseConfig('[stackstorm]\napi_url = "https://st2.example.com/st2api"\n', "c", {}).stackstorm.auth_url).toBe("https://localhost/auth/v1");
  });
});
