/**
 * The compiled binary as an operator runs it: time from exec to "connected to StackStorm's
 * stream" (aliases loaded, chat and web up), and resident memory once idle.
 *
 *   bun scripts/bench/startup.ts [runs=5]     (builds dist/st2bot first when it is missing)
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmulator } from "../../src/emulator/index.ts";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";

const RUNS = Number(process.argv[2] ?? 5);
const KEY = "startup-bench-key-0123456789";
const root = join(import.meta.dir, "..", "..");
const binary = join(root, "dist", "st2bot");
if (!existsSync(binary)) {
  const build = Bun.spawnSync([process.execPath, join(root, "scripts", "build.ts")], { stdout: "inherit", stderr: "inherit" });
  if (build.exitCode !== 0) process.exit(1);
}

const emulator = await startEmulator({ aliases: sampleAliases, actions: sampleActions, apiKeys: [KEY] });
const dir = mkdtempSync(join(tmpdir(), "st2bot-startup-"));
const config = join(dir, "st2bot.toml");
writeFileSync(config, `[bot]\ndata_dir = ${JSON.stringify(dir)}\n[web]\nport = 0\n[stackstorm]\napi_url = "${emulator.apiUrl}"\nauth_url = "${emulator.authUrl}"\nstream_url = "${emulator.streamUrl}"\n[stackstorm.api_auth]\napikey = "${KEY}"\n`);
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) / 1024;

const ready: number[] = [];
const rss: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const t0 = performance.now();
  const proc = Bun.spawn([binary, "run", "-c", config], { stdin: "pipe", stdout: "ignore", stderr: "ignore" });
  while (emulator.streamCount === 0) await Bun.sleep(1);
  ready.push(performance.now() - t0);
  await Bun.sleep(1500);
  rss.push(rssMb(proc.pid));
  proc.kill();
  await proc.exited;
  while (emulator.streamCount > 0) await Bun.sleep(5);
}
await emulator.stop();
rmSync(dir, { recursive: true, force: true });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`dist/st2bot over ${RUNS} runs: ready (exec → stream connected) median ${median(ready).toFixed(0)} ms, min ${Math.min(...ready).toFixed(0)} ms; idle RSS median ${median(rss).toFixed(0)} MB`);
