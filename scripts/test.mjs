#!/usr/bin/env node
// The README's test command (`npm test`): installs what the tests need, then runs `bun test`.
import { join } from "node:path";
import { bun, ensureDeps, root, run } from "./ensure-deps.mjs";

ensureDeps();
// Debian packages the integration tests use: a real prosody (XMPP) and Chromium (login page).
if (run("bash", [join(root, "scripts", "setup-test-deps.sh")]) !== 0) {
  console.error("test: could not install the Debian packages the tests need (see above)");
  process.exit(1);
}
// The type checker first: strict TypeScript, no unused code.
if (process.argv.length <= 2 && run(join(root, "node_modules", ".bin", "tsc"), ["--noEmit", "-p", "."]) !== 0) {
  console.error("test: the type check failed (see above)");
  process.exit(1);
}
const env = { ...process.env, ST2BOT_LOG_LEVEL: process.env.ST2BOT_LOG_LEVEL ?? "error" };
process.exit(run(bun, ["test", "--timeout", "60000", ...process.argv.slice(2)], { env }));
