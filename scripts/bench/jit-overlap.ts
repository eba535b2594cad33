/**
 * Which of outside.ts's slow commands ran into a JIT compile or a collection: st2bot's compiled
 * binary, started and driven exactly as scripts/bench/outside.ts drives it (a first start that
 * creates the database, then a restart with the first command already on stdin, 1 s idle, one
 * pass over the distinct commands, then the timed commands in the same order), with
 * JavaScriptCore's reports on stderr (`BUN_JSC_reportCompileTimes`, `reportDFGCompileTimes`,
 * `logGC`). Each report line is stamped as the harness reads it; a compile or a pause of d ms
 * reported at t covers [t − d, t]. For each timed command it tells whether that interval met
 * its line → execution request window (the figure outside.ts's p99 is about) or the rest of
 * the command (request → result).
 *
 *   bun scripts/bench/jit-overlap.ts [runs=2] [commands=400] [--binary PATH] [--names N]
 *
 * `--env K=V` (repeatable): more environment for the timed st2bot (other BUN_JSC_ options).
 * `--slowest N`: each run's N slowest commands, with what overlapped them.
 * `--names N`: the N functions whose compiles cost the request windows most (a build with
 * `scripts/build.ts --no-minify` keeps their names). It prints; it is never a test.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Child, children, commandTable, StandIn } from "./outside-processes.ts";

const flag = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const args = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && !["--binary", "--names", "--slowest", "--env"].includes(all[i - 1] ?? ""));
const RUNS = Number(args[0] ?? 2);
const PER_RUN = Number(args[1] ?? 400);
const BINARY = flag("--binary") ?? join(import.meta.dir, "..", "..", "dist", "st2bot");
const NAMES = Number(flag("--names") ?? 0);
const SLOWEST = Number(flag("--slowest") ?? 0);
const now = () => performance.timeOrigin + performance.now();
const work = mkdtempSync(join(tmpdir(), "st2bot-jit-overlap-"));
// `--env K=V` (repeatable): more environment for st2bot, e.g. other BUN_JSC_ options to compare.
const extraEnv = Object.fromEntries(process.argv.flatMap((a, i, all) => (all[i - 1] === "--env" ? [a.split("=", 2) as [string, string]] : [])));
const REPORTS = { BUN_JSC_reportCompileTimes: "1", BUN_JSC_reportDFGCompileTimes: "1", BUN_JSC_logGC: "1", ...extraEnv };

/** A compile or a collection as reported on stderr: what, how long, when it ended. */
interface Event {
  kind: "baseline" | "dfg" | "ftl" | "gc";
  name: string;
  ms: number;
  end: number;
}

/** Parses one stderr line of JavaScriptCore's reports (undefined for anything else). */
function parse(text: string, at: number): Event | undefined {
  const jit = /^Optimized (\S*?)#\S* .* using (\w+) with \w+ into \d+ bytes in ([\d.]+) ms/.exec(text);
  if (jit) {
    const tier = jit[2]!.startsWith("FTL") ? "ftl" : jit[2] === "DFG" ? "dfg" : "baseline";
    return { kind: tier, name: jit[1]!, ms: Number(jit[3]), end: at };
  }
  const gc = /^\[GC<[^>]*>: START \S+ \S+ => (\w+),.* p=([\d.]+)ms/.exec(text);
  if (gc) return { kind: "gc", name: gc[1]!, ms: Number(gc[2]), end: at };
  return undefined;
}

interface Timed {
  write: number;
  request: number;
  done: number;
}

/** CPU time of each of a process's threads so far, ms, by thread name (`/proc/PID/task/TID/schedstat`). */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${task}/comm`, "utf8").trim();
      // Fields 19 and 41 of stat are the thread's nice and policy (after the parenthesised name: 16, 38).
      const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, "utf8").split(") ")[1]!.split(" ");
      const [nice, policy] = [stat[16], stat[38]];
      const name = `${comm}${nice === "0" ? "" : ` (nice ${nice})`}${policy === "5" ? " (SCHED_IDLE)" : ""}`;
      const ms = Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]) / 1e6;
      out.set(name, (out.get(name) ?? 0) + ms);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

async function run(standin: StandIn, distinct: string[], commands: string[]): Promise<{ timed: Timed[]; events: Event[]; threads: string }> {
  const dir = mkdtempSync(join(work, "run-"));
  const config = join(dir, "st2bot.toml");
  writeFileSync(
    config,
    `[bot]\ndata_dir = ${JSON.stringify(dir)}\n[web]\nport = 0\n[stackstorm]\napi_url = "${standin.url}/api/v1"\nauth_url = "${standin.url}/auth/v1"\nstream_url = "${standin.url}/stream/v1"\n[stackstorm.api_auth]\napikey = "${standin.key}"\n[text]\nroom = "bench"\n`,
  );
  const start = async (reports: boolean) => {
    const mark = standin.child.lines.length;
    const child = new Child([BINARY, "run", "-c", config], reports ? REPORTS : {});
    child.keepStderr = reports;
    child.write(`!st2 ${commands[0]}\n`);
    const req = await standin.nextStamp(mark, "POST", "/api/v1/aliasexecution", "the first request");
    await child.waitLine(0, (s) => s === "[#bench] ack", "the first ack");
    await standin.nextStamp(mark, "GET", "/stream/v1/stream", "the stream");
    return { child, req };
  };
  await (await start(false)).child.stop();
  const { child, req } = await start(true);
  try {
    if (process.argv.includes("--idle-jit-outside")) {
      // Diagnosis only: the JIT worker threads put at SCHED_IDLE from outside (util-linux chrt).
      for (const task of readdirSync(`/proc/${child.proc.pid}/task`)) {
        if (readFileSync(`/proc/${child.proc.pid}/task/${task}/comm`, "utf8").trim() === "JITWorker") Bun.spawnSync(["chrt", "--idle", "-p", "0", task]);
      }
    }
    await Bun.sleep(1000);
    let line = child.lines.length;
    let stampFrom = req.index + 1;
    const timed: Timed[] = [];
    let cpuBefore = new Map<string, number>();
    for (let i = 0; i < distinct.length + commands.length; i++) {
      const command = i < distinct.length ? distinct[i]! : commands[i - distinct.length]!;
      if (i === distinct.length) cpuBefore = threadCpu(child.proc.pid);
      const write = now();
      child.write(`!st2 ${command}\n`);
      const stamp = await standin.nextStamp(stampFrom, "POST", "/api/v1/aliasexecution", `request for "${command}"`);
      stampFrom = stamp.index + 1;
      await child.waitLine(line, (s) => s === "[#bench] ack", "ack");
      const d = await child.waitLine(line, (s) => s === "[#bench] done", "result");
      line = d + 1;
      if (i >= distinct.length) timed.push({ write, request: stamp.at, done: child.lines[d]!.at });
    }
    const cpuAfter = threadCpu(child.proc.pid);
    const threads = [...cpuAfter].map(([name, ms]) => `${name} ${(ms - (cpuBefore.get(name) ?? 0)).toFixed(1)}`).join(", ");
    await Bun.sleep(200);
    const events = child.errLines.map((l) => parse(l.text, l.at)).filter((e): e is Event => e !== undefined);
    return { timed, events, threads };
  } finally {
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Milliseconds of `e` inside [from, to]. */
const overlap = (e: Event, from: number, to: number) => Math.max(0, Math.min(e.end, to) - Math.max(e.end - e.ms, from));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

function report(r: number, { timed, events, threads }: { timed: Timed[]; events: Event[]; threads: string }, cost: Map<string, number>, total: Map<string, number>): void {
  const first = timed[0]!.write;
  const last = timed[timed.length - 1]!.done;
  const during = events.filter((e) => e.end >= first && e.end - e.ms <= last);
  for (const e of during) if (e.kind === "dfg" || e.kind === "ftl") total.set(`${e.kind} ${e.name || "(anonymous)"}`, (total.get(`${e.kind} ${e.name || "(anonymous)"}`) ?? 0) + e.ms);
  const lat = timed.map((t) => t.request - t.write);
  const p50 = pct(lat, 50);
  const kinds = ["baseline", "dfg", "ftl", "gc"] as const;
  const inRequest = Object.fromEntries(kinds.map((k) => [k, { n: 0, ms: 0 }]));
  const inRest = Object.fromEntries(kinds.map((k) => [k, { n: 0, ms: 0 }]));
  let slow = 0;
  let slowExplained = 0;
  /** Line → request of the commands whose window a DFG/FTL compile overlapped by > 0.1 ms. */
  const duringCompile: number[] = [];
  for (const t of timed) {
    let hit = 0;
    if (during.some((e) => (e.kind === "dfg" || e.kind === "ftl") && overlap(e, t.write, t.request) > 0.1)) duringCompile.push(t.request - t.write);
    for (const e of during) {
      const a = overlap(e, t.write, t.request);
      if (a > 0.05) {
        inRequest[e.kind]!.n++;
        inRequest[e.kind]!.ms += a;
        hit += a;
        if (e.kind !== "gc" && e.kind !== "baseline") cost.set(e.name, (cost.get(e.name) ?? 0) + a);
      }
      const b = overlap(e, t.request, t.done);
      if (b > 0.05) {
        inRest[e.kind]!.n++;
        inRest[e.kind]!.ms += b;
      }
    }
    if (t.request - t.write > p50 + 0.3) {
      slow++;
      if (hit > 0.15) slowExplained++;
    }
  }
  const all = Object.fromEntries(kinds.map((k) => [k, during.filter((e) => e.kind === k)]));
  const fmt = (o: Record<string, { n: number; ms: number }>) => kinds.map((k) => `${k} ${o[k]!.n} (${o[k]!.ms.toFixed(1)} ms)`).join(", ");
  console.log(`run ${r}: request p50 ${p50.toFixed(2)} p99 ${pct(lat, 99).toFixed(2)} ms; commands > p50 + 0.3 ms: ${slow}, of which ${slowExplained} overlapped a compile or a collection by > 0.15 ms`);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  console.log(`  commands during a DFG/FTL compile: ${duringCompile.length}, line → request median ${pct(duringCompile, 50).toFixed(2)} mean ${mean(duringCompile).toFixed(2)} ms (all commands: median ${p50.toFixed(2)} mean ${mean(lat).toFixed(2)} ms)`);
  console.log(`  CPU time of st2bot's threads during the timed commands, ms: ${threads}`);
  console.log(`  during the timed commands: ${kinds.map((k) => `${all[k]!.length} ${k} (${all[k]!.reduce((s, e) => s + e.ms, 0).toFixed(1)} ms)`).join(", ")}`);
  const gcKinds = new Map<string, number>();
  for (const e of all.gc!) gcKinds.set(e.name, (gcKinds.get(e.name) ?? 0) + 1);
  // The same function compiled again at the same tier: its code was thrown away (an OSR exit
  // storm, or Bun.shrink deleting it) and had to tier up again.
  const compiles = new Map<string, number>();
  for (const e of events) if (e.kind === "dfg" || e.kind === "ftl") compiles.set(`${e.kind} ${e.name || "(anonymous)"}`, (compiles.get(`${e.kind} ${e.name || "(anonymous)"}`) ?? 0) + 1);
  const again = [...compiles].filter(([, n]) => n > 1);
  console.log(`  collections during the timed commands: ${[...gcKinds].map(([k, n]) => `${n} ${k}`).join(", ") || "none"}; over the process's life ${events.filter((e) => e.kind === "dfg" || e.kind === "ftl").length} DFG/FTL compiles, ${again.length} functions compiled more than once at a tier${again.length ? ` (${again.slice(0, 8).map(([k, n]) => `${k} ×${n}`).join(", ")})` : ""}`);
  console.log(`  inside line → request windows: ${fmt(inRequest)}`);
  console.log(`  inside request → result:        ${fmt(inRest)}`);
  const slowest = timed.map((t, j) => ({ t, j, ms: t.request - t.write })).sort((a, b) => b.ms - a.ms).slice(0, SLOWEST);
  for (const { t, j, ms } of slowest) {
    const hits = during.filter((e) => overlap(e, t.write, t.request) > 0.02).map((e) => `${e.kind} ${e.name || "(anonymous)"} ${e.ms.toFixed(2)} ms`);
    // What ran just before the line: a compile or pause that ended within 0.5 ms of it.
    const near = during.filter((e) => e.end < t.write && e.end > t.write - 0.5).map((e) => `${e.kind} ${e.ms.toFixed(2)} ms ended ${(t.write - e.end).toFixed(2)} ms before`);
    console.log(`    #${j} ${ms.toFixed(2)} ms: ${hits.join("; ") || "nothing reported"}${near.length ? ` (${near.join("; ")})` : ""}`);
  }
}

async function main(): Promise<void> {
  const standin = new StandIn(238);
  await standin.ready();
  const commands = Object.keys(await commandTable(standin));
  const order: string[] = [];
  for (let i = 0; i < PER_RUN; i++) order.push(commands[(i * 7919) % commands.length]!);
  console.log(`jit-overlap: ${BINARY}, ${RUNS} runs × ${PER_RUN} timed commands after ${commands.length} distinct ones`);
  const cost = new Map<string, number>();
  const total = new Map<string, number>();
  for (let r = 1; r <= RUNS; r++) report(r, await run(standin, commands, order), cost, total);
  if (NAMES > 0) {
    const top = [...cost].sort((a, b) => b[1] - a[1]).slice(0, NAMES);
    console.log(`functions whose DFG/FTL compiles cost the request windows most (ms over all runs): ${top.map(([n, ms]) => `${n || "(anonymous)"} ${ms.toFixed(1)}`).join(", ")}`);
    const all = [...total].sort((a, b) => b[1] - a[1]).slice(0, NAMES);
    console.log(`DFG/FTL compiles during the timed commands, by function (ms over all runs): ${all.map(([n, ms]) => `${n} ${ms.toFixed(1)}`).join(", ")}`);
  }
}

try {
  await main();
} finally {
  for (const c of children) if (c.proc.exitCode === null) c.proc.kill();
  rmSync(work, { recursive: true, force: true });
}
