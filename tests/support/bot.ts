/**
 * Starts a whole st2bot (src/app.ts) against a StackStorm emulator, with the in-memory chat
 * backend, for end-to-end tests: `say` a line as a chat user, then wait for what the bot sent.
 */
import { startApp, type App } from "../../src/app.ts";
import { parseConfig } from "../../src/config/load.ts";
import { MemoryBackend, type SentMessage } from "../../src/chat/memory.ts";
import type { EmulatorOptions } from "../../src/emulator/index.ts";
import { startTestEmulator, type TestEmulator } from "./emulator.ts";
import { waitFor } from "./wait.ts";
import { makeTempDir, removeTempDir } from "./tmp.ts";

export interface BotHarness {
  app: App;
  emulator: TestEmulator;
  backend: MemoryBackend;
  dataDir: string;
  /** A chat user types `text` (in `room`, else a DM); resolves when the bot handled it. */
  say(text: string, opts?: { user?: string; room?: string; thread?: string }): Promise<void>;
  /** Waits for a sent message matching `pred` that no earlier `next` returned. */
  next(pred: (m: SentMessage) => boolean, what?: string, ms?: number): Promise<SentMessage>;
  restart(extraToml?: string): Promise<void>;
  stop(): Promise<void>;
}

export interface BotOptions {
  emulator?: EmulatorOptions;
  /** Appended to the generated config (after `[stackstorm]` keys: start new tables). */
  toml?: string;
  /** Replaces the `[stackstorm.api_auth]` table. Default: an API key. */
  auth?: string;
  backend?: MemoryBackend;
  /** An emulator already running (e.g. one the test stops and starts). */
  useEmulator?: TestEmulator;
  streamIdleTimeoutMs?: number;
  /** Start the web server (webhook, login, metrics) on a free port. */
  web?: boolean;
}

export const API_KEY = "test-api-key-0123456789";

/** The `[stackstorm]` table pointing at `emulator` (`extra` lines inside it), then its API-key auth. */
export function stackstormToml(emulator: TestEmulator, extra = ""): string {
  return `[stackstorm]
api_url = "${emulator.apiUrl}"
auth_url = "${emulator.authUrl}"
stream_url = "${emulator.streamUrl}"
timer_update = 60
${extra}
[stackstorm.api_auth]
apikey = "${API_KEY}"`;
}

export function configFor(emulator: TestEmulator, dataDir: string, opts: BotOptions = {}, extra = "") {
  return parseConfig(
    `[bot]
data_dir = ${JSON.stringify(dataDir)}
log_level = "error"
admins = ["@admin"]
[web]
${opts.web ? "port = 0" : "enabled = false"}
[stackstorm]
api_url = "${emulator.apiUrl}"
auth_url = "${emulator.authUrl}"
stream_url = "${emulator.streamUrl}"
timer_update = 60
${opts.auth ?? `[stackstorm.api_auth]\napikey = "${API_KEY}"`}
${opts.toml ?? ""}
${extra}`,
    "<test>",
    {},
  );
}

export async function startBot(opts: BotOptions = {}): Promise<BotHarness> {
  const emulator = opts.useEmulator ?? (await startTestEmulator({ apiKeys: [API_KEY], completionDelayMs: 5, ...opts.emulator }));
  const dataDir = makeTempDir("e2e");
  const backend = opts.backend ?? new MemoryBackend({ name: "memory" });
  let app = await startApp({ config: configFor(emulator, dataDir, opts), backend, streamIdleTimeoutMs: opts.streamIdleTimeoutMs });
  const taken = new Set<number>();
  const h: BotHarness = {
    get app() {
      return app;
    },
    emulator,
    backend,
    dataDir,
    say: (text, o = {}) => backend.receive({ text, user: o.user, roomName: o.room, thread: o.thread }),
    async next(pred, what = "a message", ms = 10_000) {
      const found = await waitFor(what, () => {
        const i = backend.sent.findIndex((m, idx) => !taken.has(idx) && pred(m));
        return i >= 0 ? i : undefined;
      }, ms, { detail: () => `sent so far:\n${backend.sent.map((m) => JSON.stringify(m.target) + " " + m.text).join("\n")}` });
      taken.add(found);
      return backend.sent[found]!;
    },
    async restart(extraToml = "") {
      await app.stop();
      app = await startApp({ config: configFor(emulator, dataDir, opts, extraToml), backend, streamIdleTimeoutMs: opts.streamIdleTimeoutMs });
    },
    async stop() {
      await app.stop();
      if (!opts.useEmulator) await emulator.stop();
      removeTempDir(dataDir);
    },
  };
  return h;
}

/**
 * Starts a bot with `opts`, runs `body` with it and stops it however `body` ends (its error,
 * not one from stopping, is what the test reports). For tests that need a bot of their own.
 */
export async function withBot<T>(opts: BotOptions, body: (h: BotHarness) => Promise<T>): Promise<T> {
  const h = await startBot(opts);
  let failed = false;
  try {
    return await body(h);
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    await h.stop().catch((err: unknown) => {
      if (!failed) throw err;
    });
  }
}

/**
 * Options for a bot under client-side auth with the encrypted store: a fresh key in `keyEnv`
 * (call `delete process.env[keyEnv]` when done), the web server on, links to st2bot.example.com.
 */
export function clientsideOptions(keyEnv: string): Pick<BotOptions, "web" | "toml"> {
  process.env[keyEnv] = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
  return { web: true, toml: `[stackstorm.rbac_auth.clientside]\nurl = "https://st2bot.example.com/"\n[secrets]\nkey_env = "${keyEnv}"` };
}

/** A chat user links their StackStorm identity: session_start in a DM, then the login API. */
export async function linkIdentity(h: BotHarness, who: { chatUser: string; st2User: string; password: string }): Promise<void> {
  const dm = (m: SentMessage) => m.target.kind === "user" && m.target.id === who.chatUser && m.text.includes("/login/");
  await h.say("!st2session_start open-sesame", { user: who.chatUser });
  const id = /https:\/\/st2bot\.example\.com\/login\/([0-9a-f-]{36}) /.exec((await h.next(dm, "login link")).text)?.[1];
  if (!id) throw new Error("the session_start reply carries no login link");
  const res = await h.app.web!.app.handle(
    new Request(`http://localhost/login/authenticate/${id}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ shared_word: "open-sesame", kind: "password", username: who.st2User, password: who.password }),
    }),
  );
  if (res.status !== 200) throw new Error(`login answered ${res.status}: ${await res.text()}`);
}
