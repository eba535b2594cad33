/**
 * Starts a whole st2bot through `startApp` with a real chat backend chosen by `[bot] backend`
 * (Slack, Mattermost, XMPP), against the StackStorm emulator (every request checked against
 * StackStorm's OpenAPI spec), for the per-backend ChatOps loop tests in this folder.
 */
import { startApp, type App } from "../../src/app.ts";
import { parseConfig } from "../../src/config/load.ts";
import { BACKEND_SECTIONS } from "../../src/chat/registry.ts";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import type { EmulatedExecution } from "../../src/emulator/index.ts";
import { startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import { API_KEY, stackstormToml } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";
import { makeTempDir, removeTempDir } from "../support/tmp.ts";

export interface LoopHarness {
  app: App;
  st2: TestEmulator;
  dataDir: string;
  /** Waits for the `n`-th execution (0-based) StackStorm received, i.e. POST /aliasexecution. */
  execution(n: number, what?: string): Promise<EmulatedExecution>;
  stop(): Promise<void>;
}

/**
 * `backendToml` is the backend's own table(s), e.g. `[slack]\nbot_token = "..."`. The outbox's
 * retry cap is lowered to 2 s so a send that failed while a service was away is retried
 * promptly once it is back (the production default is 60 s). `completionDelayMs` is how long an
 * execution runs in the emulator before its result is announced.
 */
export async function startLoop(backend: string, backendToml: string, opts: { completionDelayMs?: number; stackstormToml?: string } = {}): Promise<LoopHarness> {
  const st2 = await startTestEmulator({ apiKeys: [API_KEY], completionDelayMs: opts.completionDelayMs ?? 5, aliases: sampleAliases, actions: sampleActions });
  const dataDir = makeTempDir(`${backend}-loop`);
  const config = parseConfig(
    `[bot]
backend = "${backend}"
name = "st2bot"
data_dir = ${JSON.stringify(dataDir)}
log_level = "error"
[web]
enabled = false
[outbox]
max_retry_delay_seconds = 2
${stackstormToml(st2, opts.stackstormToml)}
${backendToml}
`,
    "<backend loop test>",
    {},
    BACKEND_SECTIONS,
  );
  let app: App;
  try {
    app = await startApp({ config });
  } catch (err) {
    await st2.stop();
    removeTempDir(dataDir);
    throw err;
  }
  await waitFor("the StackStorm stream to open", () => app.streamState().state === "open");
  await waitFor(`the ${backend} backend to connect`, () => app.backend.status().state === "connected", 15_000);
  return {
    app,
    st2,
    dataDir,
    execution: (n, what = `execution #${n + 1}`) => waitFor(what, () => st2.executions[n]),
    async stop() {
      await app.stop();
      await st2.stop();
      removeTempDir(dataDir);
    },
  };
}

/**
 * Hands out items of a growing list (what a chat service received) one at a time: `next`
 * waits for the first item matching `pred` that no earlier `next` returned, so a test can
 * wait for "the ack" and then "the result" without matching the same message twice.
 */
export function taker<T>(list: () => readonly T[], show: (item: T) => string = (x) => JSON.stringify(x)) {
  const taken = new Set<number>();
  return {
    async next(pred: (item: T) => boolean, what: string, ms = 10_000): Promise<T> {
      const i = await waitFor(what, () => {
        const found = list().findIndex((item, idx) => !taken.has(idx) && pred(item));
        return found >= 0 ? found : undefined;
      }, ms).catch((err: Error) => {
        throw new Error(`${err.message}; received so far:\n${list().map(show).join("\n")}`);
      });
      taken.add(i);
      return list()[i]!;
    },
    /** Marks everything received so far as seen. */
    skipAll(): void {
      list().forEach((_, i) => taken.add(i));
    },
  };
}

/** The default result text StackStorm's `chatops.post_result` formats for an alias without `result.format`. */
export const completed = (ref: string) => `Action ${ref} completed.`;
