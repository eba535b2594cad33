/**
 * The room table of the README, enforced: each folder of src/ imports only the rooms below it,
 * and each chat SDK only from its own backend. A change that breaks the plan fails here.
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, dirname, resolve } from "node:path";

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
};

/** SDKs that only their own backend may import. */
const SDKS: Record<string, string> = {
  "@slack/web-api": "chat/slack",
  "@slack/socket-mode": "chat/slack",
  "@mattermost/client": "chat/mattermost",
  "@xmpp/client": "chat/xmpp",
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : /\.ts$/.test(name) ? [path] : [];
  });
}

const room = (file: string) => relative(src, file).split("/")[0]!;

test("imports follow the room table", () => {
  const violations: string[] = [];
  for (const file of files(src)) {
    const from = room(file);
    const allowed = ALLOWED[from];
    if (!allowed) continue; // app.ts, main.ts, version.ts, cli/: the composition root may use everything
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^;'"]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)) {
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
