/**
 * The compiled binary as an operator runs it (default config, the emulator's sample aliases):
 * time from exec to the first chat line's execution request (aliases loaded, chat and web up,
 * a line typed at once on stdin), and resident memory once idle.
 *
 * Then where the memory goes: the idle binary's RSS split into file-backed pages (the Bun
 * runtime's code and the embedded bundle, shared by every st2bot on the host) and anonymous
 * ones (heaps), and scripts/bench/memprobe.ts, compiled the same way, loading st2bot's parts
 * one after the other.
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

/** RSS and its file-backed / anonymous parts, MB. */
function smaps(pid: number): { file: number; anon: number } {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(rollup)?.[1] ?? NaN) / 1024;
  return { file: kb("Pss_File"), anon: kb("Pss_Anon") };
}
const split: { file: number; anon: number }[] = [];
const ready: number[] = [];
const rss: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const t0 = performance.now();
  const proc = Bun.spawn([binary, "run", "-c", config], { stdin: "pipe", stdout: "ignore", stderr: "ignore" });
  // Ready = a chat line typed at once is run: aliases loaded, chat up (and the stream, below).
  const executions = emulator.executions.length;
  proc.stdin.write("!st2 pack list\n");
  proc.stdin.flush();
  while (emulator.executions.length === executions) await Bun.sleep(1);
  ready.push(performance.now() - t0);
  while (emulator.streamCount === 0) await Bun.sleep(1);
  await Bun.sleep(1500);
  rss.push(rssMb(proc.pid));
  split.push(smaps(proc.pid));
  proc.kill();
  await proc.exited;
  while (emulator.streamCount > 0) await Bun.sleep(5);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`dist/st2bot over ${RUNS} runs: ready (exec → the first chat line's execution request) median ${median(ready).toFixed(0)} ms, min ${Math.min(...ready).toFixed(0)} ms; idle RSS median ${median(rss).toFixed(0)} MB`);
console.log(`  of which file-backed (the executable's pages: Bun's code, the embedded bundle) ${median(split.map((s) => s.file)).toFixed(0)} MB, anonymous (heaps) ${median(split.map((s) => s.anon)).toFixed(0)} MB`);

// Module by module: the probe, compiled as scripts/build.ts compiles st2bot.
const probe = join(dir, "memprobe");
const built = await Bun.build({ entrypoints: [join(import.meta.dir, "memprobe.ts")], compile: { outfile: probe }, minify: true, bytecode: true, format: "esm", splitting: true, external: ["bufferutil", "utf-8-validate"] } as Parameters<typeof Bun.build>[0]);
if (!built.success) throw new Error(built.logs.join("\n"));
const run = Bun.spawn([probe, emulator.url, KEY, dir], { stdin: "pipe", stdout: "pipe", stderr: "ignore", env: { ...process.env, ST2BOT_LOG_LEVEL: "error" } });
const steps = (await new Response(run.stdout).text()).trim().split("\n").map((l) => JSON.parse(l) as { step: string; rss: number; file: number; anon: number; heap: number });
console.log(`\nwhere the memory goes (a compiled probe loading st2bot's parts in order; MB after a full GC):\n| step | RSS | Δ RSS | file-backed | anonymous | JS heap |\n| --- | --- | --- | --- | --- | --- |`);
steps.forEach((s, i) => {
  const delta = i === 0 ? "" : `+${(s.rss - steps[i - 1]!.rss).toFixed(1)}`;
  console.log(`| ${s.step} | ${s.rss.toFixed(1)} | ${delta} | ${s.file.toFixed(1)} | ${s.anon.toFixed(1)} | ${s.heap.toFixed(1)} |`);
});
await emulator.stop();
rmSync(dir, { recursive: true, force: true });
