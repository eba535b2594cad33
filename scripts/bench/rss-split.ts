/**
 * Idle resident memory of st2bot builds side by side, split by kind (scripts/bench/smaps.ts:
 * the executable's code, read-only data, embedded bundle + bytecode, libraries, anonymous):
 * each binary started as outside.ts starts it (text backend, 238 aliases, the stand-in as a
 * process of its own, one command at once), RSS read 1.5 s later; three rounds, interleaved.
 * Tells a change's own memory from a difference in how the binaries were measured.
 *
 *   bun scripts/bench/rss-split.ts [--fresh] BINARY [BINARY...]
 *
 * `--fresh`: measure a fresh copy of each binary (in a temporary directory). The RSS of a
 * just-written executable is ~3-4 MB higher than that of the same bytes in a file that has sat
 * in the page cache for a while (measured: a `cp` of a build read 55.6 MB, the original 51.7):
 * the kernel maps the cached neighbours of every page faulted in (fault-around), and a fresh
 * file is cached whole while an older one has lost the pages nobody uses. Comparing a new build
 * with an old binary without `--fresh` flatters the old one.
 *
 * `--durable`: also the durable floor (scripts/bench/floor-durable.ts: alias matching with
 * st2bot's engine and an SQLite outbox, nothing else), compiled with st2bot's own compile options
 * (bytecode, jitPolicy, minify): the least a client that may not drop either needs resident.
 *
 * It prints; it is never a test.
 */
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { Child, children, StandIn } from "./outside-processes.ts";
import { memorySplit } from "./smaps.ts";
const standin = new StandIn(238);
await standin.ready();
const fresh = process.argv.includes("--fresh");
const copies = mkdtempSync(join(tmpdir(), "rss-split-bins-"));
const names = process.argv.slice(2).filter((a) => a !== "--fresh" && a !== "--durable");
/** The durable floor built as scripts/build.ts builds st2bot (its path), when `--durable`. */
async function durableFloor(): Promise<string | undefined> {
  if (!process.argv.includes("--durable")) return undefined;
  const outfile = join(copies, "floor-durable");
  const built = await Bun.build({ entrypoints: [join(import.meta.dir, "floor-durable.ts")], compile: { outfile, jitPolicy: 1000 }, minify: true, bytecode: true, format: "esm" } as Parameters<typeof Bun.build>[0]);
  if (!built.success) throw new Error(built.logs.join("\n"));
  return outfile;
}
const durable = await durableFloor();
if (durable) names.push("durable floor");
const bins = names.map((bin, i) => {
  if (bin === "durable floor") return durable!;
  if (!fresh) return bin;
  const copy = join(copies, `${i}-${basename(bin)}`);
  copyFileSync(bin, copy);
  chmodSync(copy, 0o755);
  return copy;
});
try {
  for (let r = 0; r < 3; r++) for (const [i, bin] of bins.entries()) {
    const dir = mkdtempSync(join(copies, "run-"));
    const config = join(dir, "st2bot.toml");
    writeFileSync(config, `[bot]\ndata_dir = ${JSON.stringify(dir)}\n[web]\nport = 0\n[stackstorm]\napi_url = "${standin.url}/api/v1"\nauth_url = "${standin.url}/auth/v1"\nstream_url = "${standin.url}/stream/v1"\n[stackstorm.api_auth]\napikey = "${standin.key}"\n[text]\nroom = "bench"\n`);
    const c = bin === durable
      ? new Child([bin], { ST2_URL: standin.url, ST2_API_KEY: standin.key, FLOOR_DB: join(dir, "outbox.db") })
      : new Child([bin, "run", "-c", config]);
    c.write("!st2 tool1 restart service1 web\n");
    // Any reply (this command is not one of the 238 aliases: the refusal is the first reply).
    await c.waitLine(0, (s) => s.startsWith("[#bench]"), "the first reply");
    await Bun.sleep(1500);
    const m = memorySplit(c.proc.pid);
    console.log(`${names[i]}${fresh ? " (fresh copy)" : ""}:`, Object.entries(m).map(([k, v]) => `${k} ${typeof v === "number" ? v.toFixed(1) : v}`).join(", "));
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
} finally {
  for (const c of children) if (c.proc.exitCode === null) c.proc.kill();
  rmSync(copies, { recursive: true, force: true });
}
