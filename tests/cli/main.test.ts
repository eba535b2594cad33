/** The command line as an operator uses it: a real process, real exit codes, real output. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..", "..");
const main = join(root, "src", "main.ts");
let dir: string;
beforeAll(() => void (dir = mkdtempSync(join(tmpdir(), "st2bot-cli-"))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[], opts: { cwd?: string; stdin?: string; exe?: string[] } = {}) {
  const proc = Bun.spawn([...(opts.exe ?? [process.execPath, main]), ...args], {
    cwd: opts.cwd ?? dir,
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ST2BOT_LOG_LEVEL: "error", ST2_API_URL: "", ST2_API_KEY: "" },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

describe("st2bot CLI", () => {
  test("--version and --help", async () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
    expect((await cli(["--version"])).stdout).toBe(`st2bot ${pkg.version}\n`);
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("st2bot demo");
    expect(help.stdout).toContain("st2bot alias match --aliases PATH... [--strict] -- COMMAND");
  });

  test("an unknown command exits 2 with the usage", async () => {
    const r = await cli(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toStartWith('st2bot: unknown command "frobnicate"');
  });

  test("init writes a template that run/doctor accept, and never overwrites", async () => {
    const first = await cli(["init", "st2bot.toml"]);
    expect(first.code).toBe(0);
    expect(readFileSync(join(dir, "st2bot.toml"), "utf8")).toContain('route_key = "errbot"');
    const again = await cli(["init", "st2bot.toml"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already exists");
    const rule = await cli(["rule"]);
    expect(rule.code).toBe(0);
    expect(rule.stdout).toContain('pattern: "errbot"');
    expect(rule.stdout).toContain("ref: chatops.post_result");
  });

  test("a broken config names file, line and key, and exits 1", async () => {
    await Bun.write(join(dir, "bad.toml"), '[stackstorm]\napi_url = "https://st2/api/v1"\ntimer_updat = 5\n');
    const r = await cli(["rule", "-c", "bad.toml"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('st2bot: configuration error:\nbad.toml:3: unknown key "stackstorm.timer_updat" (did you mean "timer_update"?)\n');
  });

  test("alias parse: the parameters, StackStorm's message, or why the format is invalid", async () => {
    const ok = await cli(["alias", "parse", "--format", "run {{cmd}} on {{hosts=localhost}}", "--command", "run 'uname -a' on web1 timeout=30"]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ cmd: "uname -a", hosts: "web1", timeout: "30" });
    const no = await cli(["alias", "parse", "--format", "run {{cmd}} on {{hosts}}", "--command", "walk the dog"]);
    expect(no.code).toBe(1);
    expect(no.stderr.trim()).toBe('Command "walk the dog" doesn\'t match format string "run {{cmd}} on {{hosts}}"');
    const bad = await cli(["alias", "parse", "--format", "run (unclosed {{cmd}}", "--command", "run x"]);
    expect(bad.code).toBe(2);
  });
});

describe("the compiled binary", () => {
  test("npm run build's executable runs from an empty directory without node_modules", async () => {
    const build = Bun.spawn([process.execPath, join(root, "scripts", "build.ts"), "--outdir", join(dir, "built")], { cwd: root, stdout: "pipe", stderr: "pipe" });
    expect(await build.exited).toBe(0);
    const empty = mkdtempSync(join(tmpdir(), "st2bot-empty-"));
    try {
      copyFileSync(join(dir, "built", "st2bot"), join(empty, "st2bot"));
      expect(existsSync(join(empty, "node_modules"))).toBe(false);
      const exe = [join(empty, "st2bot")];
      expect((await cli(["--version"], { cwd: empty, exe })).code).toBe(0);
      const demo = await cli(["demo"], { cwd: empty, exe, stdin: "!st2 packs list\n" });
      expect(demo.code).toBe(0);
      expect(demo.stdout).toContain("[#ops] Looking up your packs...");
      expect(demo.stdout).toContain("[#ops] Action packs.list completed.");
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  }, 120_000);
});
