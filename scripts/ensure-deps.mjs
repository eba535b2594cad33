// Shared by the README's commands: a fresh machine has Node.js and npm only, so install the
// locked dependencies (Bun among them) on first use. Plain Node.js on purpose.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const bun = join(root, "node_modules", ".bin", "bun");

export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", cwd: root, ...opts });
  return r.status ?? 1;
}

export function ensureDeps() {
  if (existsSync(bun)) return;
  console.error("installing npm dependencies from the lockfile (first run only)");
  if (run("npm", ["ci", "--no-audit", "--no-fund"]) !== 0) process.exit(1);
}
