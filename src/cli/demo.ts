/**
 * `st2bot demo`: a StackStorm emulator with sample aliases, in-process, and the terminal chat.
 * A newcomer types `!st2help`, runs a command, and sees the ack and then the result — with no
 * StackStorm, no chat service and no config file.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../config/load.ts";
import { BACKEND_SECTIONS } from "../chat/registry.ts";
import { startEmulator } from "../emulator/index.ts";
import { sampleActions, sampleAliases } from "../emulator/samples.ts";
import { runUntilStopped } from "./run.ts";

const DEMO_KEY = "demo-api-key-0123456789";

/** Runs the demo until input ends or a signal arrives; the emulator and temp data go with it. */
export async function runDemo(_argv: string[]): Promise<number> {
  const emulator = await startEmulator({ aliases: sampleAliases, actions: sampleActions, apiKeys: [DEMO_KEY], completionDelayMs: 300 });
  const dataDir = mkdtempSync(join(tmpdir(), "st2bot-demo-"));
  const config = parseConfig(
    `[bot]
data_dir = ${JSON.stringify(dataDir)}
log_level = "warn"
[web]
enabled = false
[text]
room = "ops"
[stackstorm]
api_url = "${emulator.apiUrl}"
auth_url = "${emulator.authUrl}"
stream_url = "${emulator.streamUrl}"
[stackstorm.api_auth]
apikey = "${DEMO_KEY}"
`,
    "<demo>",
    { ST2BOT_LOG_LEVEL: process.env.ST2BOT_LOG_LEVEL },
    BACKEND_SECTIONS,
  );
  const say = (s: string) => process.stderr.write(s + "\n");
  say(`st2bot demo: a StackStorm emulator with ${sampleAliases.length} sample aliases runs at ${emulator.url}.`);
  say("You are @alice in #ops. Try:");
  say("  !st2help");
  say("  !st2 run uptime on web1");
  say("  !st2 deploy shop");
  say("  !st2 deploy shop to production");
  say("  !st2 status of nginx");
  say("  !st2 this is a duplicate of OPS-1 and duplicate of OPS-2");
  say("  !help, !whoami, !status   /as @bob, /in #other, /dm switch who and where you are; /help lists them; Ctrl-D or Ctrl-C quits once results are in.");
  try {
    return await runUntilStopped(config, {}, () => emulator.executions.every((e) => e.endedAt !== undefined));
  } finally {
    await emulator.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
