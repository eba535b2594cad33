/**
 * The 5,000-result burst of scripts/bench/outside.ts alone, repeated, so a change to the stream →
 * outbox → chat path can be judged in seconds: the same stand-in (its own process) and the same
 * clients (the floor, dist/st2bot with the text backend, and optionally an older binary), each
 * listening alone (two rounds: every client is started, sent half of the bursts and
 * stopped, one after the other).
 *
 *   bun scripts/bench/burst.ts [bursts=6] [size=5000] [--before OLD_BINARY] [--rounds N] [--cpu-prof DIR]
 *
 * A burst's rate: the stand-in's first write → the last of its lines on the client's stdout
 * (outside.ts's method). Printed: every burst, and the median per client with its ratio to the
 * floor's median from the same run, and the CPU time each burst cost the client (all threads,
 * /proc/PID/task/N/schedstat: much steadier than a rate on a shared machine). It prints; it is never a test.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Child } from "./outside-processes.ts";

const flag = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const args = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && !["--before", "--cpu-prof", "--cpu-prof-interval", "--rounds"].includes(all[i - 1] ?? ""));
const BURSTS = Number(args[0] ?? 6);
const SIZE = Number(args[1] ?? 5000);
const root = join(import.meta.dir, "..", "..");
const bun = process.execPath;
const work = mkdtempSync(join(tmpdir(), "st2bot-burst-"));

const floorBinary = join(root, "dist", "bench-floor");
if (!existsSync(floorBinary)) {
  const r = Bun.spawnSync([bun, "build", "--compile", "--minify", join(import.meta.dir, "floor.ts"), "--outfile", floorBinary], { stdout: "ignore", stderr: "ignore" });
  if (r.exitCode !== 0) throw new Error("could not build the floor");
}
const standin = new Child([bun, join(import.meta.dir, "standin.ts"), "238"], { ST2BOT_LOG_LEVEL: "error" });
await standin.until(() => standin.lines.some((l) => l.text.startsWith("url ")), "the stand-in");
const [, url, key] = standin.lines.find((l) => l.text.startsWith("url "))!.text.split(" ") as [string, string, string];

const clients: Record<string, string> = { floor: floorBinary, st2bot: join(root, "dist", "st2bot") };
if (flag("--before")) clients.before = flag("--before")!;
const prof = flag("--cpu-prof");
const interval = flag("--cpu-prof-interval");

/** Starts one client on a new data dir; resolves once it printed a probe announcement (its stream is open). */
async function startClient(name: string): Promise<Child> {
  const dir = mkdtempSync(join(work, `${name}-`));
  const config = join(dir, "st2bot.toml");
  writeFileSync(
    config,
    `[bot]\ndata_dir = ${JSON.stringify(dir)}\n[web]\nport = 0\n[stackstorm]\napi_url = "${url}/api/v1"\nauth_url = "${url}/auth/v1"\nstream_url = "${url}/stream/v1"\n[stackstorm.api_auth]\napikey = "${key}"\n[text]\nroom = "bench"\n`,
  );
  writeFileSync(join(dir, "none.json"), "{}");
  const profile: Record<string, string> = name === "st2bot" && prof ? { BUN_OPTIONS: `--cpu-prof --cpu-prof-dir=${prof}${interval ? ` --cpu-prof-interval=${interval}` : ""}` } : {};
  const cmd = name === "floor" ? [clients[name]!] : [clients[name]!, "run", "-c", config];
  const child = new Child(cmd, { ST2_URL: url, ST2_API_KEY: key, FLOOR_TABLE: join(dir, "none.json"), ...profile }, (l) => l.startsWith("[#burst] ") || l.startsWith("[#probe] "));
  for (let i = 0; !child.lines.some((l) => l.text.startsWith("[#probe] ")); i++) {
    if (i > 100) throw new Error(`${name}: its stream never opened`);
    standin.write("burst 1 #probe\n");
    await Bun.sleep(100);
  }
  await Bun.sleep(500);
  return child;
}

/** One burst to the only client listening; resolves with its rate (messages per second). */
async function burst(child: Child, what: string): Promise<number> {
  child.lines.length = 0;
  const mark = standin.lines.length;
  standin.write(`burst ${SIZE} #burst\n`);
  await standin.until(() => standin.lines.slice(mark).some((l) => l.text.startsWith("burst ")), "the stand-in's burst");
  const [, first, written] = standin.lines.slice(mark).find((l) => l.text.startsWith("burst "))!.text.split(" ").map(Number) as [number, number, number];
  const count = () => child.lines.filter((l) => l.text.startsWith("[#burst] ")).length;
  await child.until(() => count() >= SIZE, what);
  const last = child.lines.filter((l) => l.text.startsWith("[#burst] "))[SIZE - 1]!.at;
  process.stdout.write(`  (stand-in wrote it in ${(written - first).toFixed(1)} ms; the last line came ${(last - first).toFixed(1)} ms after the first write)\n`);
  return SIZE / ((last - first) / 1000);
}

/** `--rounds N`: processes per client (default 2); as many as bursts measures cold first bursts only, as outside.ts does. */
const ROUNDS = Number(flag("--rounds") ?? 2);
const rates: Record<string, number[]> = Object.fromEntries(Object.keys(clients).map((k) => [k, []]));
const cpus: Record<string, number[]> = Object.fromEntries(Object.keys(clients).map((k) => [k, []]));
try {
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of Object.keys(clients)) {
      const child = await startClient(name);
      try {
        for (let b = 0; b < Math.ceil(BURSTS / ROUNDS); b++) {
          const cpu = child.cpuMs();
          const rate = await burst(child, `${name}: burst ${b + 1}`);
          rates[name]!.push(rate);
          await Bun.sleep(300);
          // CPU used by the burst (and the 300 ms after it: an idle checkpoint): far steadier than the rate on a busy machine.
          const used = child.cpuMs() - cpu;
          cpus[name]!.push(used);
          console.log(`round ${r + 1} burst ${b + 1} ${name.padEnd(6)} ${Math.round(rate)}/s  CPU ${used.toFixed(0)} ms  RSS ${child.rssMb().toFixed(0)} MB`);
        }
      } finally {
        child.proc.kill("SIGTERM");
        await child.proc.exited;
      }
    }
  }
} finally {
  standin.proc.kill("SIGTERM");
  await standin.proc.exited;
  rmSync(work, { recursive: true, force: true });
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const floor = median(rates.floor!);
for (const [name, xs] of Object.entries(rates)) {
  const cpu = median(cpus[name]!);
  console.log(`${name.padEnd(6)} median ${Math.round(median(xs))}/s (${xs.map((x) => Math.round(x / 1000)).join(" ")}k)  ${name === "floor" ? "" : `${(median(xs) / floor).toFixed(2)}× the floor`}; CPU per burst: median ${cpu.toFixed(0)} ms (${cpus[name]!.map((x) => x.toFixed(0)).join(" ")})`);
}
