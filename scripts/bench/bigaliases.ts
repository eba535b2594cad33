/**
 * The compiled binary against many aliases, as outside.ts' last part measures it (text backend,
 * the stand-in in its own process, the first command on stdin at exec, RSS 1.5 s after its
 * ack), repeated and interleaved for a before/after: exec → first execution request, idle RSS
 * and its split by kind (smaps.ts). `--heap` adds one run per binary whose preload prints the
 * JS heap ~2 s after exec: live size, heap blocks, and the cell types holding most cells.
 *
 *   bun scripts/bench/bigaliases.ts [aliases=5000] [rounds=3] [--binary PATH] [--before PATH] [--heap]
 *
 * One stand-in serves every run (outside.ts starts a fresh one per binary; RSS does not care).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Child, StandIn, children } from "./outside-processes.ts";
import { memorySplit, type MemorySplit } from "./smaps.ts";

const flag = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const args = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && !["--binary", "--before"].includes(all[i - 1] ?? ""));
const COUNT = Number(args[0] ?? 5000);
const ROUNDS = Number(args[1] ?? 3);
const root = join(import.meta.dir, "..", "..");
const binaries: [string, string][] = [["st2bot", flag("--binary") ?? join(root, "dist", "st2bot")]];
const before = flag("--before");
if (before) binaries.push(["before", before]);
const now = () => performance.timeOrigin + performance.now();
const work = mkdtempSync(join(tmpdir(), "st2bot-bigaliases-"));
// The command outside.ts sends (alias 1 of the synthetic set), or the first sample's.
const COMMAND = COUNT === 238 ? "deploy web" : "tool1 restart service1 web";

const preload = join(work, "heap-preload.ts");
writeFileSync(
  preload,
  `import { heapStats } from "bun:jsc";
// ~2 s after exec: the start-up (0.5-0.7 s with 5,000 aliases) and the first command are over.
setTimeout(() => {
  const h = heapStats();
  const top = Object.entries(h.objectTypeCounts).sort((a, b) => b[1] - a[1]).slice(0, 25);
  process.stderr.write("HEAP " + JSON.stringify({ size: h.heapSize, capacity: h.heapCapacity, extra: h.extraMemorySize, objects: h.objectCount, top }) + "\\n");
}, 2200).unref();
`,
);

interface Sample {
  start: number;
  split: MemorySplit;
}

async function once(standin: StandIn, binary: string, heap: boolean): Promise<Sample & { heap?: string }> {
  const dir = mkdtempSync(join(work, "run-"));
  const config = join(dir, "st2bot.toml");
  writeFileSync(config, `[bot]\ndata_dir = ${JSON.stringify(dir)}\n[web]\nport = 0\n[stackstorm]\napi_url = "${standin.url}/api/v1"\nauth_url = "${standin.url}/auth/v1"\nstream_url = "${standin.url}/stream/v1"\n[stackstorm.api_auth]\napikey = "${standin.key}"\n[text]\nroom = "bench"\n`);
  const mark = standin.child.lines.length;
  const t0 = now();
  const child = new Child([binary, "run", "-c", config], heap ? { BUN_OPTIONS: `--preload ${preload}` } : {});
  try {
    child.write(`!st2 ${COMMAND}\n`);
    const req = await standin.nextStamp(mark, "POST", "/api/v1/aliasexecution", "the first request");
    await child.waitLine(0, (s) => s === "[#bench] ack", "the first ack");
    let heapLine: string | undefined;
    if (heap) {
      await child.until(() => /HEAP .*\n/.test(child.stderr), "the heap figures");
      heapLine = /HEAP (.*)\n/.exec(child.stderr)?.[1];
    } else await Bun.sleep(1500);
    return { start: req.at - t0, split: memorySplit(child.proc.pid), heap: heapLine };
  } finally {
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const standin = new StandIn(COUNT);
try {
  await standin.ready();
  const samples: Record<string, Sample[]> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, binary] of r % 2 ? [...binaries].reverse() : binaries) (samples[name] ??= []).push(await once(standin, binary, false));
  }
  if (ROUNDS > 0) console.log(`${COUNT} aliases, ${ROUNDS} rounds (medians; MB)`);
  if (ROUNDS > 0) console.log("| binary | exec → request ms | RSS | code | ro data | bundle | libs | anon | RSS each run |");
  if (ROUNDS > 0) console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const [name] of ROUNDS > 0 ? binaries : []) {
    const s = samples[name]!;
    const k = (key: keyof MemorySplit) => median(s.map((x) => x.split[key])).toFixed(1);
    console.log(`| ${name} | ${median(s.map((x) => x.start)).toFixed(0)} | ${k("rss")} | ${k("code")} | ${k("rodata")} | ${k("bundle")} | ${k("libs")} | ${k("anon")} | ${s.map((x) => x.split.rss.toFixed(1)).join(" ")} |`);
  }
  if (process.argv.includes("--heap")) {
    for (const [name, binary] of binaries) {
      const h = JSON.parse((await once(standin, binary, true)).heap ?? "null") as { size: number; capacity: number; extra: number; objects: number; top: [string, number][] } | null;
      if (!h) continue;
      const mb = (n: number) => (n / 1048576).toFixed(2);
      console.log(`${name} JS heap: ${mb(h.size)} MB live in ${mb(h.capacity)} MB of blocks, ${mb(h.extra)} MB extra, ${h.objects} cells`);
      console.log(`  ${h.top.map(([t, n]) => `${t} ${n}`).join(", ")}`);
    }
  }
} finally {
  for (const c of children) if (c.proc.exitCode === null) c.proc.kill();
  rmSync(work, { recursive: true, force: true });
}
