/**
 * Idle resident memory of st2bot builds side by side, split by kind (scripts/bench/smaps.ts:
 * the executable's code, read-only data, embedded bundle + bytecode, libraries, anonymous):
 * each binary started as outside.ts starts it (text backend, 238 aliases, the stand-in as a
 * process of its own, one command at once), RSS read 1.5 s later; three rounds, interleaved.
 * Tells a change's own memory from a difference in the build (e.g. a bytecode-order profile
 * recorded for other code).
 *
 *   bun scripts/bench/rss-split.ts BINARY [BINARY...]
 *
 * It prints; it is never a test.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Child, children, StandIn } from "./outside-processes.ts";
import { memorySplit } from "./smaps.ts";
const standin = new StandIn(238);
await standin.ready();
const bins = process.argv.slice(2);
try {
  for (let r = 0; r < 3; r++) for (const bin of bins) {
    const dir = mkdtempSync(join(tmpdir(), "djit-rss-"));
    const config = join(dir, "st2bot.toml");
    writeFileSync(config, `[bot]\ndata_dir = ${JSON.stringify(dir)}\n[web]\nport = 0\n[stackstorm]\napi_url = "${standin.url}/api/v1"\nauth_url = "${standin.url}/auth/v1"\nstream_url = "${standin.url}/stream/v1"\n[stackstorm.api_auth]\napikey = "${standin.key}"\n[text]\nroom = "bench"\n`);
    const c = new Child([bin, "run", "-c", config]);
    c.write("!st2 tool1 restart service1 web\n");
    // Any reply (this command is not one of the 238 aliases: the refusal is the first reply).
    await c.waitLine(0, (s) => s.startsWith("[#bench]"), "the first reply");
    await Bun.sleep(1500);
    const m = memorySplit(c.proc.pid);
    console.log(bin, Object.entries(m).map(([k, v]) => `${k} ${typeof v === "number" ? v.toFixed(1) : v}`).join(", "));
    await c.stop();
  }
} finally {
  for (const c of children) if (c.proc.exitCode === null) c.proc.kill();
}
