/**
 * The terminal backend on a real TTY (tmux): line editing and history, `/help`, Markdown shown
 * styled, and Ctrl-C ending like Ctrl-D once the results are in. Skipped where tmux is missing
 * (scripts/setup-test-deps.sh installs it for CI).
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";

const tmux = Bun.which("tmux");
const socket = `st2bot-test-${process.pid}`;
const main = join(import.meta.dir, "..", "..", "src", "main.ts");

const run = (...args: string[]) => Bun.spawnSync(["tmux", "-L", socket, ...args], { stdout: "pipe", stderr: "pipe" });
const screen = () => run("capture-pane", "-p", "-t", "demo").stdout.toString();
const styledScreen = () => run("capture-pane", "-p", "-e", "-t", "demo").stdout.toString();
const keys = (...k: string[]) => run("send-keys", "-t", "demo", ...k);
/** The pane stays after st2bot exits (remain-on-exit), so what it printed last can be read. */
const alive = () => run("display-message", "-p", "-t", "demo", "#{pane_dead}").stdout.toString().trim() === "0";

async function until(what: string, fn: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the screen:\n${alive() ? screen() : "(gone)"}`);
    await Bun.sleep(50);
  }
}

afterAll(() => {
  run("kill-server");
});

test.skipIf(!tmux && !process.env.CI)("on a terminal: /help, history, Markdown styled, Ctrl-C waits for results then quits", async () => {
  // At info level every command leaves its audit line on the same terminal: it must land above the prompt.
  const started = run("new-session", "-d", "-s", "demo", "-x", "150", "-y", "50", `env ST2BOT_LOG_LEVEL=info ${process.execPath} ${main} demo`);
  expect(started.exitCode).toBe(0);
  run("set-option", "-t", "demo", "remain-on-exit", "on");
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
