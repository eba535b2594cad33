/**
 * A whole st2bot (src/app.ts) on a real chat backend (Slack or Mattermost emulator), under
 * client-side auth with the encrypted store, the web server on a free port and an ACL, against
 * a StackStorm emulator whose workflows ask inquiries: for the answer-with-a-click tests.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startApp, type App } from "../../src/app.ts";
import { parseConfig } from "../../src/config/load.ts";
import { BACKEND_SECTIONS } from "../../src/chat/registry.ts";
import type { ActionSpec, AliasInput } from "../../src/emulator/index.ts";
import { startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import { API_KEY, stackstormToml } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";
import { makeTempDir, removeTempDir } from "../support/tmp.ts";

/** `approved` (yes/no) → Approve/Reject buttons; `env` (listed values) → a select; `note` (text) → none. */
const schemas = {
  approve: { type: "object", properties: { approved: { type: "boolean", description: "Approve the deploy?", required: true } } },
  env: { type: "object", properties: { env: { type: "string", enum: ["staging", "production"], required: true } } },
  note: { type: "object", properties: { note: { type: "string", description: "Why?", required: true } } },
};
const actions: ActionSpec[] = [
  { ref: "ops.deploy", runner: "orquesta", asks: [{ task: "approve", schema: schemas.approve, route: "developers" }] },
  { ref: "ops.promote", runner: "orquesta", asks: [{ task: "pick", schema: schemas.env, route: "developers" }] },
  { ref: "ops.explain", runner: "orquesta", asks: [{ task: "why", schema: schemas.note, route: "developers" }] },
];
const aliases: AliasInput[] = [
  { name: "deploy", pack: "ops", action_ref: "ops.deploy", formats: ["deploy {{app}}"] },
  { name: "promote", pack: "ops", action_ref: "ops.promote", formats: ["promote {{app}}"] },
  { name: "explain", pack: "ops", action_ref: "ops.explain", formats: ["explain {{app}}"] },
];

export interface ClickHarness {
  app: App;
  st2: TestEmulator;
  dataDir: string;
  /** Where chat services reach st2bot's web routes (a loopback front, see `startClickBot`). */
  webUrl: string;
  /** The pending `core.ask` of the workflow `ref` started last. */
  pendingAsk(ref: string): Promise<string>;
  /** PUTs StackStorm received on /inquiries: who sent them and what. */
  answers(): { user?: string; body: unknown }[];
  /** Every byte st2bot wrote to its data directory (database, WAL), for "never in clear" checks. */
  storedBytes(): string;
  /** Links `chatUser`'s StackStorm identity through the login API, given the login link's id. */
  login(linkId: string, st2User: string, password: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `backendToml(webUrl)` is the backend's own table; `acl` is appended as it is. Mattermost's
 * `actions_url` must be known before st2bot starts, so a loopback front on a free port is
 * opened first and hands each request to st2bot's web app (the same Elysia app its server runs).
 */
export async function startClickBot(backend: string, backendToml: (webUrl: string) => string, acl: string, keyEnv: string): Promise<ClickHarness> {
  process.env[keyEnv] = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
  const st2 = await startTestEmulator({ apiKeys: [API_KEY], completionDelayMs: 5, actions, aliases, users: { st2admin: "Ch@ngeMe", alice: "alice-pw", bob: "bob-pw" } });
  const dataDir = makeTempDir(`clicks-${backend}`);
  let web: App["web"];
  const front = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req) => (web ? web.app.handle(new Request(`http://localhost${new URL(req.url).pathname}`, req)) : new Response("not yet", { status: 503 })),
  });
  const webUrl = `http://127.0.0.1:${front.port}`;
  const config = parseConfig(
    `[bot]
backend = "${backend}"
name = "st2bot"
data_dir = ${JSON.stringify(dataDir)}
log_level = "error"
[web]
port = 0
${stackstormToml(st2)}
[stackstorm.rbac_auth.clientside]
url = "https://st2bot.example.com/"
[secrets]
key_env = "${keyEnv}"
${acl}
${backendToml(webUrl)}
`,
    "<click test>",
    {},
    BACKEND_SECTIONS,
  );
  const app = await startApp({ config });
  web = app.web;
  await waitFor("the StackStorm stream to open", () => app.streamState().state === "open");
  await waitFor(`the ${backend} backend to connect`, () => app.backend.status().state === "connected", 15_000);
  return {
    app,
    st2,
    dataDir,
    webUrl,
    pendingAsk: (ref) =>
      waitFor(`a pending ask of ${ref}`, () => {
        const wf = st2.executions.findLast((e) => e.action.ref === ref);
        return wf ? st2.executions.find((e) => e.parentId === wf.id && e.status === "pending")?.id : undefined;
      }),
    answers: () => st2.requests.filter((r) => r.method === "PUT" && r.path.startsWith("/api/v1/inquiries/")).map((r) => ({ user: r.credential?.user, body: r.body })),
    storedBytes: () => readdirSync(dataDir).map((f) => readFileSync(join(dataDir, f)).toString("latin1")).join("\n"),
    async login(linkId, st2User, password) {
      const res = await app.web!.app.handle(
        new Request(`http://localhost/login/authenticate/${linkId}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ shared_word: "open-sesame", kind: "password", username: st2User, password }),
        }),
      );
      if (res.status !== 200) throw new Error(`login answered ${res.status}: ${await res.text()}`);
    },
    async stop() {
      await app.stop();
      front.stop(true);
      await st2.stop();
      removeTempDir(dataDir);
      delete process.env[keyEnv];
    },
  };
}

/** The login link's id in a `!st2session_start` reply. */
export function linkIdOf(text: string): string {
  const id = /https:\/\/st2bot\.example\.com\/login\/([0-9a-f-]{36})/.exec(text)?.[1];
  if (!id) throw new Error(`no login link in: ${text}`);
  return id;
}
