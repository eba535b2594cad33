/**
 * The compiled binary as an operator runs it (default config, the emulator's sample aliases):
 * time from exec to the first chat line's execution request (aliases loaded, chat and web up,
 * a line typed at once on stdin), and resident memory once idle.
 *
 * Then where the memory goes: the idle binary's RSS by kind (scripts/bench/smaps.ts: the
 * executable's code, its read-only data, the embedded bundle and bytecode, libraries — all
 * file-backed, clean and shared by every st2bot on the host — and anonymous memory, this
 * process's own), its JS heap (one more run with a preload reading `bun:jsc`), and
 * scripts/bench/memprobe.ts, compiled the same way, loading st2bot's parts one after the other.
 *
 *   bun scripts/bench/startup.ts [runs=5]     (builds dist/st2bot first when it is missing)
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmulator } from "../../src/emulator/index.ts";
import { memorySplit, type MemorySplit } from "./smaps.ts";
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
const split: MemorySplit[] = [];
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
  split.push(memorySplit(proc.pid));
  rss.push(split[split.length - 1]!.rss);
  proc.kill();
  await proc.exited;
  while (emulator.streamCount > 0) await Bun.sleep(5);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`dist/st2bot over ${RUNS} runs: ready (exec → the first chat line's execution request) median ${median(ready).toFixed(0)} ms, min ${Math.min(...ready).toFixed(0)} ms; idle RSS median ${median(rss).toFixed(0)} MB`);
const kind = (k: keyof MemorySplit) => median(split.map((s) => s[k])).toFixed(1);
console.log(`  file-backed, shared: code ${kind("code")} MB, read-only data ${kind("rodata")} MB, embedded bundle + bytecode ${kind("bundle")} MB, libraries ${kind("libs")} MB; anonymous, its own: ${kind("anon")} MB`);

// The JS heap of the same idle binary: one more run whose preload reads bun:jsc (its own few kB aside).
const preload = join(dir, "heap-preload.ts");
writeFileSync(preload, `import { heapStats } from "bun:jsc";\nsetTimeout(() => { const h = heapStats(); process.stderr.write("HEAP " + JSON.stringify({ size: h.heapSize, capacity: h.heapCapacity, extra: h.extraMemorySize, objects: h.objectCount }) + "\\n"); }, 1500);\n`);
const probed = Bun.spawn([binary, "run", "-c", config], { stdin: "pipe", stdout: "ignore", stderr: "pipe", env: { ...process.env, BUN_OPTIONS: `--preload ${preload}` } });
probed.stdin.write("!st2 pack list\n");
probed.stdin.flush();
let heapLine = "";
for await (const chunk of probed.stderr as unknown as AsyncIterable<Uint8Array>) {
  heapLine += new TextDecoder().decode(chunk);
  if (/HEAP .*\n/.test(heapLine)) break;
}
probed.kill();
await probed.exited;
while (emulator.streamCount > 0) await Bun.sleep(5);
const heap = JSON.parse(/HEAP (.*)/.exec(heapLine)?.[1] ?? "null") as { size: number; capacity: number; extra: number; objects: number } | null;
if (heap) console.log(`  JS heap (in the anonymous part): ${(heap.size / 1048576).toFixed(1)} MB live in ${(heap.capacity / 1048576).toFixed(1)} MB of heap blocks, ${heap.objects} objects; ${(heap.extra / 1048576).toFixed(1)} MB outside the cells (strings, buffers)`);

// Module by module: the probe, compiled as scripts/build.ts compiles st2bot.
const probe = join(dir, "memprobe");
const order = join(root, "scripts", "st2bot.order");
const built = await Bun.build({ entrypoints: [join(import.meta.dir, "memprobe.ts")], compile: { outfile: probe, bytecodeOrder: existsSync(order) && order, jitPolicy: 1000 }, minify: true, bytecode: true, format: "esm", splitting: true, external: ["bufferutil", "utf-8-validate"] } as Parameters<typeof Bun.build>[0]);
if (!built.success) throw new Error(built.logs.join("\n"));
const run = Bun.spawn([probe, emulator.url, KEY, dir], { stdin: "pipe", stdout: "pipe", stderr: "ignore", env: { ...process.env, ST2BOT_LOG_LEVEL: "error" } });
const steps = (await new Response(run.stdout).text()).trim().split("\n").map((l) => JSON.parse(l) as MemorySplit & { step: string; heap: number });
if ((await run.exited) !== 0) throw new Error(`memprobe failed after "${steps[steps.length - 1]?.step}"`);
console.log(`\nwhere the memory goes (a compiled probe loading st2bot's parts in order; MB after a full GC):\n| step | RSS | Δ RSS | code | read-only data | bundle + bytecode | libraries | anonymous | JS heap |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |`);
steps.forEach((s, i) => {
  const delta = i === 0 ? "" : `${s.rss >= steps[i - 1]!.rss ? "+" : ""}${(s.rss - steps[i - 1]!.rss).toFixed(1)}`;
  console.log(`| ${s.step} | ${s.rss.toFixed(1)} | ${delta} | ${s.code.toFixed(1)} | ${s.rodata.toFixed(1)} | ${s.bundle.toFixed(1)} | ${s.libs.toFixed(1)} | ${s.anon.toFixed(1)} | ${s.heap.toFixed(1)} |`);
});
await emulator.stop();
rmSync(dir, { recursive: true, force: true });
