/**
 * `st2bot alias lint` on fixture packs written for each check (lint-fixtures/) and on the 198
 * real aliases of StackStorm Exchange packs.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { aliasCli } from "../../../src/st2/aliases/cli.ts";
import { annotation } from "../../../src/st2/aliases/lintcli.ts";
import type { Finding } from "../../../src/st2/aliases/lint.ts";
import { REFERENCE_DIR } from "../../support/reference.ts";

const FIX = join(import.meta.dir, "lint-fixtures");
const EXCHANGE = `${REFERENCE_DIR}/st2/exchange-aliases`;

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await aliasCli(["lint", ...argv], { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

const json = async (...argv: string[]) => {
  const r = await run("--format", "json", ...argv);
  return { code: r.code, findings: JSON.parse(r.stdout) as Finding[] };
};

describe("st2bot alias lint on fixture packs", () => {
  test("each check fires where it should, with the line of the format; exit 1 on errors", async () => {
    const { code, findings } = await json(join(FIX, "ops"), join(FIX, "web"));
    expect(code).toBe(1);
    const brief = findings.map((f) => `${f.file.split("lint-fixtures/")[1]}:${f.line} ${f.severity} ${f.rule} ${f.alias}`);
    expect(brief).toEqual([
      "ops/aliases/broken.yaml:6 error invalid-format ops.broken",
      "ops/aliases/broken.yaml:7 error unsupported-format ops.broken",
      "ops/aliases/broken.yaml:14 error overlap ops.ship",
      "ops/aliases/cancel.yaml:6 warning st2bot-subcommand ops.cancel_job",
      "ops/aliases/restart.yaml:7 error undeclared-parameter ops.restart",
      "ops/aliases/status.yaml:2 warning missing-description ops.status",
      "ops/aliases/status.yaml:5 warning never-chosen ops.status",
    ]);
  });

  test("an overlap names both aliases and the command that shows it; a disabled alias overlaps nothing", async () => {
    const { findings } = await json(join(FIX, "ops"), join(FIX, "web"));
    const overlap = findings.find((f) => f.rule === "overlap")!;
    expect(overlap.example).toBe("deploy x1");
    expect(overlap.message).toStartWith('"deploy x1" matches both ops.ship ("deploy {{thing}}") and web.deploy ("deploy {{app}}", ');
    expect(overlap.message).toContain("web/aliases/deploy.yaml:7)");
    expect(findings.some((f) => f.alias === "web.deploy_old")).toBe(false);
  });

  test("action metadata: formats and immutable_parameters checked against the action's and its runner's parameters", async () => {
    const { findings } = await json(join(FIX, "ops"));
    const undeclared = findings.filter((f) => f.rule === "undeclared-parameter");
    // `host` is nobody's; `service` is the action's, `timeout` the python-script runner's; the workflow file is no alias.
    expect(undeclared.map((f) => f.message)).toEqual(['parameter "host" is not declared by action ops.restart nor its runner python-script: StackStorm refuses the execution']);
    expect(findings.some((f) => f.file.includes("workflows") || f.file.endsWith("pack.yaml"))).toBe(false);
  });

  test("a representation that always ties with another of its alias is never chosen", async () => {
    const { findings } = await json(join(FIX, "ops", "aliases", "status.yaml"));
    expect(findings.find((f) => f.rule === "never-chosen")).toMatchObject({ format: "status {{service}}", example: "status x1" });
  });

  test("one chosen only when its defaulted parameters are left out is not reported", async () => {
    expect((await json(join(FIX, "ops", "aliases", "report.yaml"))).findings).toEqual([]);
  });

  test("--format github: one workflow command per finding, properties and data escaped", async () => {
    const r = await run("--format", "github", join(FIX, "ops", "aliases", "cancel.yaml"));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^::warning file=[^,]*cancel\.yaml,line=6,title=st2bot alias lint \(st2bot-subcommand\)::starts with "cancel"/);
    const odd: Finding = { severity: "error", rule: "x", file: "/tmp/a,b:c.yaml", line: 3, message: "50% done\nsecond line" };
    expect(annotation(odd)).toBe("::error file=/tmp/a%2Cb%3Ac.yaml,line=3,title=st2bot alias lint (x)::50%25 done%0Asecond line\n");
  });

  test("warnings alone exit 0, or 1 under --strict; a clean pack says so", async () => {
    expect((await run(join(FIX, "ops", "aliases", "cancel.yaml"))).code).toBe(0);
    expect((await run("--strict", join(FIX, "ops", "aliases", "cancel.yaml"))).code).toBe(1);
    expect(await run(join(FIX, "clean"))).toEqual({ code: 0, stdout: "1 alias checked: 0 errors, 0 warnings\n", stderr: "" });
  });

  test("usage errors exit 2", async () => {
    expect((await run()).code).toBe(2);
    expect((await run("--format", "xml", FIX)).code).toBe(2);
    expect((await run("--bogus", FIX)).code).toBe(2);
    const empty = await run(join(FIX, "ops", "actions"));
    expect(empty).toMatchObject({ code: 2, stderr: expect.stringContaining("no action aliases found") });
  });
});

describe("st2bot alias lint on the 198 Exchange aliases", () => {
  test("finds the known problems (see the f-exec note for the full list)", async () => {
    const { code, findings } = await json(EXCHANGE);
    expect(code).toBe(1);
    const has = (rule: string, file: string) => findings.some((f) => f.rule === rule && f.file.endsWith(file));
    expect(has("invalid-format", "vyatta/cfg_ebgp.yaml")).toBe(true);
    expect(has("invalid-format", "vyatta/cfg_interface.yaml")).toBe(true);
    expect(has("duplicate-format", "scalyr/timeseries_query.yaml")).toBe(true);
    expect(has("overlap", "zendesk/close_ticket.yaml")).toBe(true);
    expect(has("overlap", "st2cd/promote_package.yaml")).toBe(true);
    expect(has("never-chosen", "vadc/bsd_get_vtm_bandwidth.yaml")).toBe(true);
    // "bsd status" (stringify left to its default) is the second representation's own command.
    expect(has("never-chosen", "vadc/bsd_get_status.yaml")).toBe(false);
    expect(has("missing-description", "deploy/pack_info.yaml")).toBe(true);
    expect(findings.filter((f) => f.rule === "unreadable")).toEqual([]);
    const text = await run(EXCHANGE);
    expect(text.stdout).toEndWith(`198 aliases checked: ${findings.filter((f) => f.severity === "error").length} errors, ${findings.filter((f) => f.severity === "warning").length} warnings\n`);
  });
});
