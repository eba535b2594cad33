/**
 * Announcements through a real st2bot process (stream → outbox on disk → text backend):
 * throughput and latency, then the same with `kill -9` in the middle and a restart, counting
 * what was lost and what was delivered twice.
 *
 *   bun scripts/bench/killtest.ts [count=10000]
 *
 * StackStorm's stream has no replay: what the emulator wrote into the socket of a process
 * that was then killed never reached st2bot. Those are reported apart ("in transit"), since
 * no bridge can keep them; "lost" counts messages st2bot had accepted (stored in its outbox).
 */
import { Database } from "bun:sqlite";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { startEmulator, type Emulator } from "../../src/emulator/index.ts";

const KEY = "killtest-api-key-0123456789";
const root = join(import.meta.dir, "..", "..");

export interface KillTestResult {
  count: number;
  throughputPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  published: number;
  accepted: number;
  inTransit: number;
  lost: number;
  duplicated: number;
}

class Bot {
  proc!: Subprocess<"pipe", "pipe", "pipe">;
  /** The child's last log lines, for a failure message. */
  stderr = "";
  readonly seen = new Map<string, number>();
  readonly arrivals: { id: string; at: number }[] = [];
  constructor(private readonly configFile: string) {}

  async start(): Promise<void> {
    this.proc = Bun.spawn([process.execPath, join(root, "src", "main.ts"), "run", "-c", this.configFile], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, ST2BOT_LOG_LEVEL: "error" },
    });
    void this.read(this.proc.stdout);
    void (async () => {
      for await (const chunk of this.proc.stderr as unknown as AsyncIterable<Uint8Array>) this.stderr = (this.stderr + new TextDecoder().decode(chunk)).slice(-4000);
    })();
  }

  /** Throws, with the child's own words, if it has exited. */
  alive(): true {
    if (this.proc.exitCode !== null || this.proc.signalCode) {
      throw new Error(`st2bot exited (${this.proc.exitCode ?? this.proc.signalCode}):\n${this.stderr}`);
    }
    return true;
  }

  private async read(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
      const now = performance.now();
      buffer += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const m = /\] (m\d+-\d+)$/.exec(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        if (!m) continue;
        this.seen.set(m[1]!, (this.seen.get(m[1]!) ?? 0) + 1);
        this.arrivals.push({ id: m[1]!, at: now });
      }
    }
  }

  async kill(): Promise<void> {
    this.proc.kill("SIGKILL");
    await this.proc.exited;
  }

  async stop(): Promise<void> {
    this.proc.kill("SIGTERM");
    await this.proc.exited;
  }
}

async function until(what: string, fn: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

/**
 * Publishes `ids` in chunks of 50, only while a stream is connected (pausing otherwise), as
 * fast as possible or at `perSecond`.
 */
async function publish(emulator: Emulator, ids: string[], sentAt: Map<string, number>, perSecond = Infinity): Promise<void> {
  const start = performance.now();
  for (let i = 0; i < ids.length; i += 50) {
    await until("a stream connection", () => emulator.streamCount > 0);
    const due = start + (i / perSecond) * 1000;
    while (performance.now() < due) await Bun.sleep(1);
    for (const id of ids.slice(i, i + 50)) {
      sentAt.set(id, performance.now());
      emulator.announce("errbot", { message: id, channel: `#bench${Number(id.split("-")[1]) % 10}` });
    }
    await Bun.sleep(0);
  }
}

const STEADY_RATE = 5000;

function rssOf(pid: number): string {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return (Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024).toFixed(0);
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

export async function runKillTest(count: number, log: (s: string) => void = () => {}): Promise<KillTestResult> {
  const emulator = await startEmulator({ apiKeys: [KEY] });
  const dir = mkdtempSync(join(tmpdir(), "st2bot-killtest-"));
  const configFile = join(dir, "st2bot.toml");
  writeFileSync(configFile, `[bot]\ndata_dir = ${JSON.stringify(dir)}\nlog_level = "error"\n[web]\nenabled = false\n[stackstorm]\napi_url = "${emulator.apiUrl}"\nauth_url = "${emulator.authUrl}"\nstream_url = "${emulator.streamUrl}"\n[stackstorm.api_auth]\napikey = "${KEY}"\n`);
  const bot = new Bot(configFile);
  try {
    const spawned = performance.now();
    await bot.start();
    await until("st2bot connected", () => bot.alive() && emulator.streamCount > 0);
    const readyMs = performance.now() - spawned;

    // Phase 1: a flood for throughput, then a steady 5,000/s for latency; no faults.
    const sentAt = new Map<string, number>();
    const flood = Array.from({ length: count }, (_, i) => `m0-${i}`);
    const t0 = performance.now();
    await publish(emulator, flood, sentAt);
    await until("the flood delivered", () => flood.every((id) => bot.seen.has(id)), 120_000);
    const throughput = count / ((performance.now() - t0) / 1000);
    const steady = Array.from({ length: count }, (_, i) => `m1-${i}`);
    await publish(emulator, steady, sentAt, STEADY_RATE);
    await until("the steady run delivered", () => steady.every((id) => bot.seen.has(id)), 120_000);
    const latencies = bot.arrivals.filter((a) => a.id.startsWith("m1-")).map((a) => a.at - sentAt.get(a.id)!);
    log(`phase 1: a flood of ${count}: ${Math.round(throughput)} messages/s through stream → outbox (disk) → chat; at a steady ${STEADY_RATE}/s, emission → chat p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms`);
    log(`st2bot process: RSS ${rssOf(bot.proc.pid)} MB after both runs; ready (spawn → stream connected) in ${readyMs.toFixed(0)} ms`);

    // Phase 2: kill -9 once about a third has arrived, read what the outbox holds, restart.
    const phase2 = Array.from({ length: count }, (_, i) => `m2-${i}`);
    const pendingAtKill = new Set<string>();
    const deliveredBeforeKill = new Set<string>();
    const killAt = Math.floor(count / 3);
    const deliveredBefore = bot.arrivals.length;
    const killer = (async () => {
      await until("a third delivered", () => bot.arrivals.length - deliveredBefore >= killAt, 120_000);
      await bot.kill();
      for (const id of bot.seen.keys()) if (id.startsWith("m2-")) deliveredBeforeKill.add(id);
      const db = new Database(join(dir, "st2bot.sqlite"));
      for (const row of db.query("SELECT payload FROM outbox").all() as { payload: string }[]) pendingAtKill.add(JSON.parse(row.payload).message);
      db.close();
      log(`phase 2: killed st2bot (-9) after ${deliveredBeforeKill.size} delivered; ${pendingAtKill.size} accepted but not yet delivered`);
      await bot.start();
    })();
    await Promise.all([publish(emulator, phase2, sentAt, STEADY_RATE), killer]);
    await until("st2bot reconnected", () => emulator.streamCount > 0, 60_000);
    // Quiet: nothing new for a while and the outbox empty.
    let last = -1;
    for (;;) {
      await Bun.sleep(1000);
      if (bot.arrivals.length === last) break;
      last = bot.arrivals.length;
    }
    const delivered = new Set([...bot.seen.keys()].filter((id) => id.startsWith("m2-")));
    const accepted = new Set([...deliveredBeforeKill, ...pendingAtKill, ...delivered]);
    const lost = [...accepted].filter((id) => !delivered.has(id)).length;
    const duplicated = [...bot.seen.entries()].filter(([id, n]) => id.startsWith("m2-") && n > 1).length;
    const result: KillTestResult = {
      count,
      throughputPerSecond: Math.round(throughput),
      p50Ms: pct(latencies, 50),
      p99Ms: pct(latencies, 99),
      published: phase2.length,
      accepted: accepted.size,
      inTransit: phase2.length - accepted.size,
      lost,
      duplicated,
    };
    log(`phase 2: published ${result.published}, accepted ${result.accepted}, lost ${lost}, duplicated ${duplicated}, in transit at the kill (no stream replay) ${result.inTransit}`);
    return result;
  } finally {
    await bot.stop().catch(() => undefined);
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  await runKillTest(Number(process.argv[2] ?? 10_000), console.log);
}
