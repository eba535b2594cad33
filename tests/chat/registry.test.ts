/**
 * The backend registry: what each backend declares is what config loading, `st2bot init`,
 * doctor, the constructors and `!about` use, so none of them keeps its own list.
 */
import { describe, expect, test } from "bun:test";
import { BACKEND_SECTIONS, BACKENDS, backendLabels, backendTemplates, createBackend } from "../../src/chat/registry.ts";
import { sectionOf } from "../../src/chat/backend.ts";
import { parseConfig } from "../../src/config/load.ts";
import { configTemplate } from "../../src/config/template.ts";
import { ConfigError } from "../../src/lib/errors.ts";

const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

describe("backend registry", () => {
  test("st2bot init's template has every backend's table and parses to the defaults", () => {
    const template = configTemplate(backendTemplates());
    const fromTemplate = parseConfig(template, "template.toml", {}, BACKEND_SECTIONS);
    const defaults = parseConfig("", "empty.toml", {}, BACKEND_SECTIONS);
    for (const b of BACKENDS) {
      expect(template).toContain(`\n[${b.name}]\n`);
      expect(fromTemplate[b.name]).toEqual(defaults[b.name]);
    }
    expect(template).toContain(`backend = "text"             # the chat service: ${BACKENDS.map((b) => b.name).join(" | ")}`);
  });

  test("a backend missing settings refuses to start with the very list doctor prints", async () => {
    const config = parseConfig("", "empty.toml", {}, BACKEND_SECTIONS);
    let checked = 0;
    for (const b of BACKENDS) {
      const missing = b.missing(sectionOf(b, config));
      if (missing.length === 0) continue;
      const err = await failure(createBackend({ ...config, bot: { ...config.bot, backend: b.name } }));
      expect(err).toBeInstanceOf(ConfigError);
      for (const m of missing) expect((err as Error).message).toContain(m);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(3);
  });

  test("an unknown backend name is a ConfigError naming the choices", async () => {
    const config = parseConfig('[bot]\nbackend = "slak"\n', "c.toml", {}, BACKEND_SECTIONS);
    const err = await failure(createBackend(config));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(BACKENDS.map((b) => b.name).join(", "));
  });

  test("!about names the services from the registry", () => {
    const labels = BACKENDS.map((b) => b.label);
    expect(backendLabels()).toBe(`${labels.slice(0, -1).join(", ")} and ${labels.at(-1)}`);
    expect(backendLabels()).toStartWith("Slack, Mattermost, XMPP");
  });

  test("names are unique and no backend takes a table of st2bot's own", () => {
    const names = BACKENDS.map((b) => b.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of ["bot", "stackstorm", "web", "webhook", "secrets", "outbox", "access_controls"]) expect(names).not.toContain(n);
  });
});

describe("plain-http advice", () => {
  const adviceFor = (name: string, toml: string) => {
    const b = BACKENDS.find((x) => x.name === name)!;
    const config = parseConfig(`[${name}]\n${toml}`, "t.toml", {}, BACKEND_SECTIONS);
    return b.advice!(sectionOf(b, config)).map((a) => a.what).filter((w) => /http/.test(w));
  };
  const cases: Array<[string, (url: string) => string]> = [
    ["matrix", (url) => `homeserver = "${url}"\naccess_token = "t"`],
    ["rocketchat", (url) => `url = "${url}"\nuser_id = "u"\ntoken = "t"`],
  ];

  test("is decided on the parsed host: this machine is fine, a name that only starts like it is not", () => {
    for (const [name, toml] of cases) {
      for (const local of ["http://127.0.0.1:8008", "http://127.0.0.2", "http://localhost:3000", "http://[::1]:8008", "https://chat.example.com"]) {
        expect({ name, url: local, advice: adviceFor(name, toml(local)) }).toEqual({ name, url: local, advice: [] });
      }
      for (const away of ["http://chat.example.com", "http://localhost.example.com", "http://127.0.0.1.example.com", "HTTP://chat.example.com"]) {
        expect({ name, url: away, advice: adviceFor(name, toml(away)).length }).toEqual({ name, url: away, advice: 1 });
      }
    }
  });
});
