import { beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadAliasFiles, packFromPath } from "../../../src/st2/aliases/load.ts";
import { REFERENCE_DIR } from "../../support/reference.ts";
import { tempDirs } from "../../support/tmp.ts";

const tmp = tempDirs();

let root: string;

function write(rel: string, text: string): string {
  const file = join(root, rel);
  mkdirSync(join(file, ".."), { recursive: true });
  writeFileSync(file, text);
  return file;
}

beforeAll(() => {
  root = tmp("aliases");
  write("packs/ops/aliases/deploy.yaml", "name: deploy\naction_ref: ops.deploy\nformats:\n  - deploy {{app}}\n");
  write("packs/ops/aliases/nested/restart.yml", "name: restart\naction_ref: ops.restart\nformats: ['restart {{svc}}']\n");
  write("packs/ops/aliases/notes.txt", "not an alias");
  write("packs/ops/actions/deploy.yaml", "name: deploy\nrunner_type: local-shell-cmd\n");
  write("exchange/salt/local.yaml", "name: salt.local\naction_ref: salt.local\nformats: ['salt-local {{module}}']\n");
  write(
    "multi/many.yaml",
    "---\nname: one\npack: mine\naction_ref: mine.one\nformats: ['one']\n---\nname: two\npack: mine\naction_ref: mine.two\nenabled: false\nformats: ['two']\n---\n",
  );
  write("bad/syntax.yaml", "name: [unclosed\n");
  write("bad/shape.yaml", "name: x\npack: p\nformats: not-a-list\n");
  write("bad/list.yaml", "- a\n- b\n");
  write("bad/empty.yaml", "");
});


describe("loadAliasFiles", () => {
  test("a pack folder, recursively, .yaml and .yml only; pack from packs/<pack>/aliases", async () => {
    const { aliases, errors } = await loadAliasFiles([join(root, "packs/ops/aliases")]);
    expect(errors).toEqual([]);
    expect(aliases.map((a) => [a.ref, a.pack, a.enabled])).toEqual([
      ["ops.deploy", "ops", true],
      ["ops.restart", "ops", true],
    ]);
  });

  test("pack from the folder holding the file (exchange layout)", async () => {
    const { aliases } = await loadAliasFiles([join(root, "exchange")]);
    expect(aliases.map((a) => a.ref)).toEqual(["salt.salt.local"]);
  });

  test("several documents in one file; a trailing --- is ignored", async () => {
    const { aliases, errors } = await loadAliasFiles([join(root, "multi/many.yaml")]);
    expect(errors).toEqual([]);
    expect(aliases.map((a) => [a.ref, a.enabled])).toEqual([
      ["mine.one", true],
      ["mine.two", false],
    ]);
  });

  test("problems are collected per file, never thrown", async () => {
    const { aliases, errors } = await loadAliasFiles([join(root, "bad"), join(root, "missing.yaml")]);
    expect(aliases).toEqual([]);
    const byFile = Object.fromEntries(errors.map((e) => [e.file.replace(`${root}/`, ""), e.reason]));
    expect(Object.keys(byFile).sort()).toEqual(["bad/list.yaml", "bad/shape.yaml", "bad/syntax.yaml", "missing.yaml"]);
    expect(byFile["bad/syntax.yaml"]).toStartWith("YAML: ");
    expect(byFile["bad/shape.yaml"]).toContain("action_ref");
    expect(byFile["bad/shape.yaml"]).toContain("formats");
    expect(byFile["bad/list.yaml"]).toBe("not an action alias (expected a mapping)");
    expect(byFile["missing.yaml"]).toBe("no such file or folder");
  });

  test("StackStorm's fixtures and all exchange aliases load", async () => {
    const { aliases, errors } = await loadAliasFiles([`${REFERENCE_DIR}/st2/aliases`, `${REFERENCE_DIR}/st2/exchange-aliases`]);
    expect(errors).toEqual([]);
    expect(aliases).toHaveLength(209);
    expect(aliases.every((a) => a.ref === `${a.pack}.${a.name}`)).toBe(true);
  });
});

describe("packFromPath", () => {
  test("the folder above aliases/, else the parent folder", () => {
    expect(packFromPath("/opt/stackstorm/packs/chatops/aliases/post.yaml")).toBe("chatops");
    expect(packFromPath("/opt/stackstorm/packs/chatops/aliases/sub/post.yaml")).toBe("chatops");
    expect(packFromPath("/x/exchange-aliases/github/get_user.yaml")).toBe("github");
  });
});
