/**
 * The room table of the README, enforced: each folder of src/ imports only the rooms below it,
 * each chat SDK only from its own backend, a backend is its folder plus its registry line, and
 * a backend on the shared link writes only what differs from LinkedBackend.
 * A change that breaks the plan fails here.
 */
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, dirname, resolve } from "node:path";
import { BACKENDS } from "../../src/chat/registry.ts";
import { backendLeaks } from "./seam.ts";

const src = join(import.meta.dir, "..", "..", "src");

/** Which rooms each room may import (lib is the shared base everyone may use). */
const ALLOWED: Record<string, string[]> = {
  lib: [],
  config: ["lib"],
  store: ["lib"],
  st2: ["config", "lib"],
  chat: ["config", "lib"],
  delivery: ["chat", "store", "config", "lib"],
  auth: ["st2", "store", "config", "lib"],
  bot: ["st2", "chat", "auth", "config", "lib"],
  web: ["bot", "delivery", "auth", "config", "lib"],
  emulator: ["st2", "lib"],
  cluster: ["delivery", "auth", "st2", "chat", "store", "config", "lib"],
};

/** SDKs that only their own backend may import: each registry entry lists its own. */
const SDKS: Record<string, string> = Object.fromEntries(BACKENDS.flatMap((b) => b.sdks.map((sdk) => [sdk, `chat/${b.name}`])));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : /\.ts$/.test(name) ? [path] : [];
  });
}

const room = (file: string) => relative(src, file).split("/")[0]!;
const IMPORT = /(?:^|\n)\s*(?:import|export)[^;'"]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
/** Static `import … from` specifiers only (a dynamic `import()` loads on demand). */
const staticImports = (text: string) => [...text.matchAll(IMPORT)].filter((m) => m[1]).map((m) => m[1]!);

test("imports follow the room table", () => {
  const violations: string[] = [];
  for (const file of files(src)) {
    const from = room(file);
    const allowed = ALLOWED[from];
    if (!allowed) continue; // app.ts, main.ts, version.ts, cli/: the composition root may use everything
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2]!;
      if (spec.startsWith(".")) {
        const target = resolve(dirname(file), spec);
        if (!target.startsWith(src)) continue;
        const to = room(target);
        if (to !== from && !allowed.includes(to)) violations.push(`${relative(src, file)} imports ${to}/ (${spec})`);
      } else {
        const owner = Object.entries(SDKS).find(([sdk]) => spec === sdk || spec.startsWith(sdk + "/"))?.[1];
        if (owner && !relative(src, file).startsWith(owner)) violations.push(`${relative(src, file)} imports ${spec}, which belongs to ${owner}`);
      }
    }
  }
  expect(violations).toEqual([]);
});

test("a backend is its folder plus its registry line: nothing else names its settings", () => {
  const sources = files(src).map((file) => ({ path: relative(src, file), text: readFileSync(file, "utf8") }));
  const backends = BACKENDS.map((b) => ({ name: b.name, keys: Object.keys(b.schema.entries) }));
  // `st2bot demo` is the terminal backend's showcase: it sets the room you start in.
  expect(backendLeaks(sources, backends, { "cli/demo.ts": ["text"] })).toEqual([]);
});

test("the registry and each backend's settings load no SDK: `create` imports the backend on demand", () => {
  const violations: string[] = [];
  const light = (path: string, allowed: (spec: string) => boolean) => {
    for (const spec of staticImports(readFileSync(join(src, path), "utf8"))) if (!allowed(spec)) violations.push(`${path} imports ${spec}`);
  };
  light("chat/registry.ts", (s) => /^\.\/(backend|types)\.ts$|^\.\/[\w-]+\/settings\.ts$|^\.\.\/(config|lib)\//.test(s));
  for (const b of BACKENDS) {
    const settings = `chat/${b.name}/settings.ts`;
    expect(existsSync(join(src, settings)), `${settings} exists`).toBe(true);
    light(settings, (s) => s === "valibot" || /^\.\.\/backend\.ts$|^\.\.\/\.\.\/lib\//.test(s));
  }
  expect(violations).toEqual([]);
});

test("a backend on the shared ReconnectingLink extends LinkedBackend: start, stop and status are written once", () => {
  const violations: string[] = [];
  let linked = 0;
  for (const b of BACKENDS) {
    const dir = join(src, "chat", b.name);
    if (!existsSync(dir)) continue;
    const usesLink = files(dir).some((file) => staticImports(readFileSync(file, "utf8")).includes("../link.ts"));
    if (!usesLink) continue;
    linked++;
    const index = readFileSync(join(dir, "index.ts"), "utf8");
    if (!/\bextends LinkedBackend\b/.test(index)) violations.push(`chat/${b.name}/index.ts runs on ReconnectingLink but does not extend LinkedBackend`);
    // The base's plumbing, written again: a `status()` that only asks the link.
    if (/\n\s+status\(\): BackendStatus \{\s*return this\.\w+\.status\(\);\s*\}/.test(index)) violations.push(`chat/${b.name}/index.ts repeats status() from LinkedBackend`);
  }
  expect(linked).toBeGreaterThanOrEqual(7);
  expect(violations).toEqual([]);
});
