/**
 * The terminal backend on a real TTY (tmux): line editing and history, `/help`, Markdown shown
 * styled, and Ctrl-C ending like Ctrl-D once the results are in. Skipped where tmux is missing
 * (scripts/setup-test-deps.sh installs it for CI).
 */
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { API_KEY } from "../support/bot.ts";
import { startTestEmulator } from "../support/emulator.ts";
import { waitFor } from "../support/wait.ts";
import { tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();

const tmux = Bun.which("tmux");
const socket = `st2bot-test-${process.pid}`;
const main = join(import.meta.dir, "..", "..", "src", "main.ts");

const run = (...args: string[]) => Bun.spawnSync(["tmux", "-L", socket, ...args], { stdout: "pipe", stderr: "pipe" });
let session = "demo";
const screen = () => run("capture-pane", "-p", "-t", session).stdout.toString();
const styledScreen = () => run("capture-pane", "-p", "-e", "-t", session).stdout.toString();
const keys = (...k: string[]) => run("send-keys", "-t", session, ...k);
/** The pane stays after st2bot exits (remain-on-exit), so what it printed last can be read. */
const alive = () => run("display-message", "-p", "-t", session, "#{pane_dead}").stdout.toString().trim() === "0";

const until = (what: string, fn: () => boolean, ms = 15_000) =>
  waitFor(what, fn, ms, { everyMs: 50, detail: () => `the screen:
${screen()}` });

/** Starts `command` in a fresh tmux session on a real TTY; its pane stays readable after exit. */
function open(name: string, command: string): void {
  session = name;
  expect(run("new-session", "-d", "-s", name, "-x", "150", "-y", "50", command).exitCode).toBe(0);
  run("set-option", "-t", name, "remain-on-exit", "on");
}

afterAll(() => {
  run("kill-server");
});

test.skipIf(!tmux && !process.env.CI)("on a terminal: /help, history, Markdown styled, Ctrl-C waits for results then quits", async () => {
  // At info level every command leaves its audit line on the same terminal: it must land above the prompt.
  open("demo", `env ST2BOT_LOG_LEVEL=info ${process.execPath} ${main} demo`);
  await until("the prompt", () => screen().includes("@alice #ops>"));

  keys("/help", "Enter");
  await until("the help", () => screen().includes("/as @user   speak as another chat user"));

  keys("!whoami", "Enter");
  // The whoami table is aligned columns on a terminal, its header bold, no `|` left.
  await until("whoami", () => /\[#ops\] aclattr\s+@alice/.test(screen()));
  expect(styledScreen()).toContain("\x1b[1m");
  expect(screen()).not.toContain("| aclattr");
  // The log line is above the prompt, never written into it.
  await until("the audit line", () => /INFO  bot\.audit: @alice in #ops: "whoami"/.test(screen()));
  expect(screen().split("\n").filter((l) => l.includes("#ops>") && l.includes("INFO"))).toEqual([]);
  expect(screen().trimEnd().endsWith("@alice #ops>")).toBe(true);

  // History: Up brings the last line back for editing.
  keys("Up");
  await until("the recalled line", () => screen().trimEnd().endsWith("@alice #ops> !whoami"));
  keys("C-u");

  // A command whose result comes later, then Ctrl-C at once: the result still arrives, then st2bot ends.
  keys("!st2 run uptime on web1", "Enter");
  keys("C-c");
  await until("the Ctrl-C notice", () => screen().includes("(Ctrl-C: waiting briefly for results"));
  await until("st2bot to quit", () => !alive(), 30_000);
  const last = screen();
  if (process.env.SHOW_SCREEN) console.log(last);
  expect(last.indexOf("Action core.remote completed.")).toBeGreaterThan(last.indexOf("(Ctrl-C: waiting briefly"));
}, 60_000);

test.skipIf(!tmux && !process.env.CI)("a second Ctrl-C quits at once, without waiting for a result still running", async () => {
  const emulator = await startTestEmulator({ aliases: sampleAliases, actions: sampleActions, apiKeys: [API_KEY], completionDelayMs: 60_000 });
  const dir = tmp("terminal");
  try {
    const config = join(dir, "st2bot.toml");
    writeFileSync(
      config,
      `[bot]\ndata_dir = ${JSON.stringify(dir)}\nlog_level = "error"\n[web]\nenabled = false\n[text]\nroom = "ops"\n` +
        `[stackstorm]\napi_url = "${emulator.apiUrl}"\nauth_url = "${emulator.authUrl}"\nstream_url = "${emulator.streamUrl}"\n[stackstorm.api_auth]\napikey = "${API_KEY}"\n`,
    );
    open("slow", `${process.execPath} ${main} run -c ${config}`);
    await until("the prompt", () => screen().includes("@alice #ops>"));
    keys("!st2 run uptime on web1", "Enter");
    await until("the ack", () => screen().includes("Running uptime on web1"));
    keys("C-c");
    await until("the Ctrl-C notice", () => screen().includes("(Ctrl-C: waiting briefly"));
    await Bun.sleep(300);
    expect(alive()).toBe(true); // still waiting for the result
    const pressed = Date.now();
    keys("C-c");
    await until("st2bot to quit", () => !alive(), 10_000);
    expect(Date.now() - pressed).toBeLessThan(5_000);
    expect(screen()).not.toContain("Action core.remote completed.");
  } finally {
    await emulator.stop();
  }
}, 60_000);
