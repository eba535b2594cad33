/**
 * The README's systemd unit works as written: systemd-analyze accepts it (when this machine has
 * systemd-analyze), and the state directory systemd gives st2bot is where the database goes,
 * whatever the working directory — with the config file `st2bot init` writes.
 */
import { beforeAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { CONFIG_TEMPLATE } from "../../src/config/template.ts";
import { tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();

const root = join(import.meta.dir, "..", "..");
const readme = readFileSync(join(root, "README.md"), "utf8");
const analyze = Bun.which("systemd-analyze");
let dir: string;
beforeAll(() => void (dir = tmp("systemd")));

/** The ```ini block of the README that holds the st2bot unit. */
function readmeUnit(): string {
  const block = [...readme.matchAll(/```ini\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes("ExecStart=/usr/local/bin/st2bot run"));
  if (!block) throw new Error("the README has no ```ini block with the st2bot unit");
  return block;
}

test("the README's unit has a state directory, a working directory and an [Install] section", () => {
  const unit = readmeUnit();
  expect(unit).toContain("\nStateDirectory=st2bot\n");
  expect(unit).toContain("\nWorkingDirectory=/var/lib/st2bot\n");
  expect(unit).toMatch(/\[Install\]\nWantedBy=multi-user\.target\n/);
  expect(unit).toContain("ExecStart=/usr/local/bin/st2bot run -c /etc/st2bot/st2bot.toml");
});

test.skipIf(!analyze)("systemd-analyze verify accepts the README's unit as written (skipped: no systemd-analyze here)", async () => {
  // The one change: ExecStart must name an executable that exists on this machine.
  const unit = readmeUnit().replace("/usr/local/bin/st2bot", process.execPath);
  const file = join(dir, "st2bot.service");
  writeFileSync(file, unit);
  const proc = Bun.spawn([analyze!, "verify", "--man=no", file], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  // systemd-analyze exits 0 even for unknown keys; it reports them on stderr, naming the file.
  const aboutUnit = `${out}\n${err}`.split("\n").filter((l) => l.includes("st2bot.service"));
  expect(aboutUnit).toEqual([]);
  expect(code).toBe(0);
  // It does catch a misspelt key, so the check above can fail.
  writeFileSync(file, unit.replace("StateDirectory=", "StateDirectry="));
  const bad = Bun.spawn([analyze!, "verify", "--man=no", file], { stdout: "pipe", stderr: "pipe" });
  expect(await new Response(bad.stderr).text()).toContain("Unknown key 'StateDirectry'");
});

test("under systemd (STATE_DIRECTORY set, any working directory) the init template's database goes to the state directory", async () => {
  const etc = join(dir, "etc");
  const state = join(dir, "var-lib-st2bot");
  mkdirSync(etc, { recursive: true });
  mkdirSync(state, { recursive: true });
  writeFileSync(join(etc, "st2bot.toml"), CONFIG_TEMPLATE);
  expect(loadConfig(join(etc, "st2bot.toml"), { STATE_DIRECTORY: state }).bot.data_dir).toBe(state);
  // Without systemd: beside the config file, not in the working directory.
  expect(loadConfig(join(etc, "st2bot.toml"), {}).bot.data_dir).toBe(join(etc, "st2bot-data"));
  // A relative data_dir in the file is taken relative to the file; an absolute one as it is.
  writeFileSync(join(etc, "rel.toml"), '[bot]\ndata_dir = "state"\n');
  expect(loadConfig(join(etc, "rel.toml"), { STATE_DIRECTORY: state }).bot.data_dir).toBe(join(etc, "state"));
  writeFileSync(join(etc, "abs.toml"), '[bot]\ndata_dir = "/srv/st2bot"\n');
  expect(loadConfig(join(etc, "abs.toml"), {}).bot.data_dir).toBe("/srv/st2bot");

  // doctor, run from / as systemd would with another WorkingDirectory, says where it is.
  const proc = Bun.spawn([process.execPath, join(root, "src", "main.ts"), "doctor", "-c", join(etc, "st2bot.toml")], {
    cwd: "/",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, STATE_DIRECTORY: state, ST2_API_URL: "http://127.0.0.1:1/api", ST2_AUTH_URL: "http://127.0.0.1:1/auth", ST2_STREAM_URL: "http://127.0.0.1:1/stream", ST2_API_KEY: "systemd-key-0123456789" },
  });
  const [out] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  expect(out).toContain(`✓ data directory ${state} (bot.data_dir: database, outbox, sessions) is writable`);
});
