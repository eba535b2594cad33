/** The command line as an operator uses it: a real process, real exit codes, real output. */
import { beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();

const root = join(import.meta.dir, "..", "..");
const main = join(root, "src", "main.ts");
let dir: string;
beforeAll(() => void (dir = tmp("cli")));

async function cli(args: string[], opts: { cwd?: string; stdin?: string; exe?: string[]; env?: Record<string, string> } = {}) {
  const proc = Bun.spawn([...(opts.exe ?? [process.execPath, main]), ...args], {
    cwd: opts.cwd ?? dir,
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ST2BOT_LOG_LEVEL: "error", ST2_API_URL: "", ST2_API_KEY: "", ...opts.env },
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
    // StackStorm's own chatops.notify-errbot already serves "errbot": a second rule posts everything twice.
    expect(rule.stdout).toContain("# StackStorm's chatops pack already ships chatops.notify-errbot, which serves route \"errbot\"");
    expect(rule.stderr).toContain("note: StackStorm's chatops pack already ships chatops.notify-errbot for route \"errbot\"");
    const own = await cli(["rule"], { env: { ST2_ROUTE: "st2bot-prod" } });
    expect(own.stdout).toContain('pattern: "st2bot-prod"');
    expect(own.stdout).not.toContain("already ships");
    expect(own.stderr).toBe("");
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
    const empty = tmp("empty");
    copyFileSync(join(dir, "built", "st2bot"), join(empty, "st2bot"));
    expect(existsSync(join(empty, "node_modules"))).toBe(false);
    const exe = [join(empty, "st2bot")];
    expect((await cli(["--version"], { cwd: empty, exe })).code).toBe(0);
    const demo = await cli(["demo"], { cwd: empty, exe, stdin: "!st2 packs list\n" });
    expect(demo.code).toBe(0);
    expect(demo.stdout).toContain("[#ops] Looking up your packs...");
    expect(demo.stdout).toContain("[#ops] Action packs.list completed.");
  }, 120_000);
});

describe("the command line behaves like one", () => {
  test("every subcommand answers -h and --help with its usage on stdout, exit 0, and does nothing else", async () => {
    const cwd = tmp("help");
    for (const command of ["run", "demo", "doctor", "init", "rule", "secrets", "version", "alias"]) {
      for (const flag of ["--help", "-h"]) {
        const r = await cli([command, flag], { cwd });
        expect({ command, flag, code: r.code, stderr: r.stderr }).toEqual({ command, flag, code: 0, stderr: "" });
        expect(r.stdout).toContain(`st2bot ${command}`);
      }
    }
    expect((await cli(["secrets", "rotate-key", "--help"], { cwd })).stdout).toContain("--new-key-file");
    expect((await cli(["run", "-c", "x.toml", "--help"], { cwd })).code).toBe(0);
    expect((await cli(["help", "doctor"], { cwd })).stdout).toStartWith("usage: st2bot doctor [-c FILE]");
    // `init --help` once wrote a config file named --help.
    expect(readdirSync(cwd)).toEqual([]);
  });

  test("an option-looking word is never a file name; unknown options and extra words are usage errors (exit 2)", async () => {
    const cwd = tmp("usage");
    const odd = await cli(["init", "-x"], { cwd });
    expect(odd.code).toBe(2);
    expect(odd.stderr).toStartWith("st2bot init: Unknown option '-x'\n\nusage: st2bot init [FILE]");
    const dashed = await cli(["init", "--", "--force"], { cwd });
    expect(dashed.code).toBe(2);
    expect(dashed.stderr).toContain('"--force" looks like an option, not a file name');
    expect((await cli(["init", "a.toml", "b.toml"], { cwd })).code).toBe(2);
    expect(readdirSync(cwd)).toEqual([]);
    const run = await cli(["run", "--bogus"], { cwd });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("usage: st2bot run [-c FILE]");
    expect((await cli(["doctor", "extra"], { cwd })).stderr).toStartWith('st2bot doctor: unexpected argument "extra"');
    expect((await cli(["secrets"], { cwd })).code).toBe(2);
  });

  test("alias match without --, --quiet, and a YAML error that does not end in a colon", async () => {
    const packs = join(dir, "packs");
    mkdirSync(join(packs, "aws", "aliases"), { recursive: true });
    writeFileSync(join(packs, "aws", "aliases", "ec2.yaml"), 'name: ec2_get\naction_ref: aws.ec2_get\nformats:\n  - "aws ec2 get {{instance=all}}"\n');
    writeFileSync(join(packs, "aws", "aliases", "broken.yaml"), "name: x\n  bad: [\n");
    const plain = await cli(["alias", "match", "--aliases", packs, "aws", "ec2", "get"]);
    expect(plain.code).toBe(0);
    expect(JSON.parse(plain.stdout)).toMatchObject({ ref: "aws.ec2_get", params: { instance: "all" } });
    const warning = plain.stderr.trim();
    expect(warning).toStartWith(`warning: ${join(packs, "aws", "aliases", "broken.yaml")}: YAML: `);
    expect(warning).not.toEndWith(":");
    const quiet = await cli(["alias", "match", "--quiet", "--aliases", packs, "aws", "ec2", "get", "i-123"]);
    expect(quiet).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(quiet.stdout).params).toEqual({ instance: "i-123" });
  });

  test("run without any StackStorm credential refuses to start, saying what to set (exit 1)", async () => {
    const r = await cli(["run"], { env: { ST2_API_URL: "http://127.0.0.1:1/api" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("st2bot has no StackStorm credential: set stackstorm.api_auth.apikey (or ST2_API_KEY");
    expect(r.stderr).toContain("ST2_AUTH_USERNAME and ST2_AUTH_PASSWORD");
  });

  test("a busy port names the setting; a database that cannot be opened names the file and what to do", async () => {
    const busy = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const env = { ST2_API_URL: "http://127.0.0.1:1/api", ST2_API_KEY: "cli-key-0123456789" };
    try {
      await Bun.write(join(dir, "busy.toml"), `[bot]\ndata_dir = "busy-data"\n[web]\nport = ${busy.port}\n`);
      const r = await cli(["run", "-c", "busy.toml"], { env });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`port ${busy.port} on 127.0.0.1 is in use: set web.port, or web.enabled = false`);
    } finally {
      busy.stop(true);
    }
    mkdirSync(join(dir, "notadb"), { recursive: true });
    writeFileSync(join(dir, "notadb", "st2bot.sqlite"), "this is not a database; ".repeat(200));
    await Bun.write(join(dir, "notadb.toml"), `[bot]\ndata_dir = "notadb"\n[web]\nenabled = false\n`);
    const notDb = await cli(["run", "-c", "notadb.toml"], { env });
    expect(notDb.code).toBe(1);
    expect(notDb.stderr).toContain(`cannot open the database ${join(dir, "notadb", "st2bot.sqlite")} (SQLITE_NOTADB): the file is not an st2bot database`);
    writeFileSync(join(dir, "plainfile"), "x");
    await Bun.write(join(dir, "nodir.toml"), `[bot]\ndata_dir = "plainfile/state"\n[web]\nenabled = false\n`);
    const noDir = await cli(["run", "-c", "nodir.toml"], { env });
    expect(noDir.code).toBe(1);
    expect(noDir.stderr).toContain(`cannot open the database ${join(dir, "plainfile", "state", "st2bot.sqlite")} (ENOTDIR): check that bot.data_dir`);
  });
});

test("doctor in a real process prints only its checklist: nothing on stderr, the runtime log line under its ✗", async () => {
  const { startTestEmulator } = await import("../support/emulator.ts");
  const st2 = await startTestEmulator({ apiKeys: ["the-right-key-0123456789"] });
  try {
    const r = await cli(["doctor"], { env: { ST2_API_URL: `${st2.url}/api`, ST2_API_KEY: "a-revoked-key-0123456789", ST2BOT_LOG_LEVEL: "info" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("");
    expect(r.stdout).toStartWith("st2bot doctor\n✓ configuration is valid\n");
    expect(r.stdout).toContain(`✗ StackStorm answered 401 at ${st2.apiUrl}/actionalias`);
    expect(r.stdout).toContain("    · ERROR st2.client: StackStorm refused the bot's api key …6789");
    expect(r.stdout).not.toContain("a-revoked-key-0123456789");
  } finally {
    await st2.stop();
  }
});
