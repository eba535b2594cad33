/**
 * A cluster of real st2bot processes for the cluster tests and benchmark: a real redis-server
 * (tests/support/redis.ts), the StackStorm emulator in this process, and N st2bot instances
 * (`bun src/main.ts run`, or the compiled binary named by ST2BOT_BIN) with the terminal
 * backend, whose stdout lines are the deliveries, counted per message id and per instance with
 * their arrival time.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import type { Subprocess } from "bun";
import { startEmulator, type Emulator, type EmulatorOptions } from "../../src/emulator/index.ts";
import { freePort, RedisServer } from "../../tests/support/redis.ts";

const KEY = "cluster-test-api-key-0123456789";
export const WEBHOOK_TOKEN = "cluster-webhook-token-0123456789abcdef";
const root = join(import.meta.dir, "..", "..");

/** One delivery: which instance printed which id, when (performance.now of this process). */
export interface Delivery {
  id: string;
  node: string;
  at: number;
}

/** One st2bot process of the cluster. */
export class Node {
  proc?: Subprocess<"pipe", "pipe", "pipe">;
  stderr = "";
  port = 0;
  exits: Array<number | null> = [];
  /** Called with every stdout line (round-trip measurements). */
  onLine?: (line: string, at: number) => void;
  constructor(
    readonly name: string,
    private readonly harness: ClusterHarness,
    private readonly configFile: string,
  ) {}

  async start(): Promise<void> {
    // ST2BOT_BIN runs the compiled binary (`npm run build`) instead of the sources.
    const command = process.env.ST2BOT_BIN ? [process.env.ST2BOT_BIN] : [process.execPath, join(root, "src", "main.ts")];
    this.proc = Bun.spawn([...command, "run", "-c", this.configFile], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, ST2BOT_LOG_LEVEL: process.env.CLUSTER_LOG_LEVEL ?? "warn" },
    });
    const proc = this.proc;
    void proc.exited.then((code) => {
      this.exits.push(code);
      // As systemd's Restart=on-failure would: a leader that lost its lease exits 75 and comes back as a standby.
      if (code === 75 && this.proc === proc) void this.start();
    });
    void this.read(proc.stdout);
    void (async () => {
      for await (const chunk of proc.stderr as unknown as AsyncIterable<Uint8Array>) this.stderr = (this.stderr + new TextDecoder().decode(chunk)).slice(-6000);
    })();
  }

  get pid(): number {
    return this.proc!.pid;
  }

  get running(): boolean {
    return Boolean(this.proc) && this.proc!.exitCode === null && !this.proc!.signalCode;
  }

  /** While set, stdout is not read: the pipe fills and the instance's chat writes stay unconfirmed. */
  private paused?: { until: Promise<void>; resume: () => void };

  /** Stops reading the instance's stdout (its terminal "chat service" stops confirming sends). */
  pauseOutput(): void {
    let resume = () => undefined as void;
    const until = new Promise<void>((r) => (resume = r));
    this.paused ??= { until, resume };
  }

  /** Reads its stdout again. */
  resumeOutput(): void {
    this.paused?.resume();
    this.paused = undefined;
  }

  private async read(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    const reader = stream.getReader();
    for (;;) {
      while (this.paused) await this.paused.until;
      const { value: chunk, done } = await reader.read();
      if (done) break;
      const at = performance.now();
      buffer += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        this.onLine?.(line, at);
        const m = /\] ([mw]\d*-\d+)$/.exec(line);
        buffer = buffer.slice(nl + 1);
        if (m) this.harness.record({ id: m[1]!, node: this.name, at });
      }
    }
  }

  /** Types `line` into the instance's terminal backend. */
  type(line: string): void {
    this.proc!.stdin.write(line + "\n");
    this.proc!.stdin.flush();
  }

  async signal(sig: NodeJS.Signals): Promise<void> {
    this.proc?.kill(sig);
    if (sig === "SIGKILL" || sig === "SIGTERM") await this.proc?.exited;
  }

  /** POSTs the webhook; the status code. */
  async post(message: string, channel = "#ops"): Promise<number> {
    try {
      const r = await fetch(`http://127.0.0.1:${this.port}/chatops/message`, {
        method: "POST",
        headers: { authorization: `Bearer ${WEBHOOK_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ channel, message }),
      });
      await r.arrayBuffer();
      return r.status;
    } catch {
      return 0;
    }
  }

  rssMb(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
  }
}

/** Options of the cluster under test. */
export interface HarnessOptions {
  nodes?: number;
  /** Extra `[cluster]` lines (lease timing). */
  cluster?: string[];
  appendonly?: boolean;
  /** Use this Redis instead of starting one (Sentinel test: give the `[cluster]` lines). */
  redisLines?: string[];
  /** No `[cluster]` table at all: one plain instance (the single-node baseline). */
  single?: boolean;
  /** The emulator's aliases and actions (default: none). */
  emulator?: Pick<EmulatorOptions, "aliases" | "actions">;
}

/** Redis, the emulator and the st2bot instances (see the file comment). */
export class ClusterHarness {
  redis?: RedisServer;
  /** The port of the Redis primary now (Sentinel test: as the Sentinels say); default `redis.port`. */
  primaryPort?: () => number;
  emulator!: Emulator;
  readonly nodes: Node[] = [];
  readonly deliveries: Delivery[] = [];
  readonly counts = new Map<string, number>();
  private dir = mkdtempSync(join(tmpdir(), "st2bot-cluster-"));

  static async start(opts: HarnessOptions & { primaryPort?: () => number } = {}): Promise<ClusterHarness> {
    const h = new ClusterHarness();
    h.primaryPort = opts.primaryPort;
    if (!opts.redisLines && !opts.single) h.redis = await RedisServer.start({ appendonly: opts.appendonly ?? true });
    h.emulator = await startEmulator({ apiKeys: [KEY], ...opts.emulator });
    for (let i = 0; i < (opts.nodes ?? 2); i++) await h.add(`n${i}`, opts);
    return h;
  }

  record(d: Delivery): void {
    this.deliveries.push(d);
    this.counts.set(d.id, (this.counts.get(d.id) ?? 0) + 1);
  }

  private async add(name: string, opts: HarnessOptions): Promise<Node> {
    const dir = join(this.dir, name);
    const port = await freePort();
    const file = join(this.dir, `${name}.toml`);
    const e = this.emulator;
    const redisLines = opts.redisLines ?? (this.redis ? [`redis_url = "${this.redis.url}"`] : []);
    writeFileSync(
      file,
      [
        "[bot]",
        `data_dir = ${JSON.stringify(dir)}`,
        "[web]",
        `port = ${port}`,
        "[webhook]",
        `token = "${WEBHOOK_TOKEN}"`,
        "[stackstorm]",
        `api_url = "${e.apiUrl}"`,
        `auth_url = "${e.authUrl}"`,
        `stream_url = "${e.streamUrl}"`,
        "[stackstorm.api_auth]",
        `apikey = "${KEY}"`,
        ...(opts.single ? [] : ["[cluster]", ...redisLines, `instance = "${name}"`, ...(opts.cluster ?? [])]),
      ].join("\n") + "\n",
    );
    const node = new Node(name, this, file);
    node.port = port;
    this.nodes.push(node);
    await node.start();
    return node;
  }

  /** The instance named in the lease key, or undefined. */
  leaderName(prefix = "st2bot"): string | undefined {
    const port = this.primaryPort?.() ?? this.redis?.port;
    if (!port) return undefined;
    const out = spawnSync("redis-cli", ["-p", String(port), "GET", `${prefix}:leader`], { encoding: "utf8" }).stdout.trim();
    return out ? out.split("|")[0] : undefined;
  }

  node(name: string | undefined): Node {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  /** Publishes `ids` on the stream, `perSecond` (chunks of 10), spread over ten channels as in killtest.ts. */
  async publish(ids: string[], perSecond: number): Promise<void> {
    const start = performance.now();
    for (let i = 0; i < ids.length; i += 10) {
      const due = start + (i / perSecond) * 1000;
      while (performance.now() < due) await Bun.sleep(1);
      for (const [j, id] of ids.slice(i, i + 10).entries()) this.emulator.announce("errbot", { message: id, channel: `#bench${j}` });
      await Bun.sleep(0);
    }
  }

  /** Waits until `fn` holds (throws with the nodes' logs after `ms`). */
  async until(what: string, fn: () => boolean, ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!fn()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${this.nodes.map((n) => `--- ${n.name} (exits ${n.exits.join(",")}):\n${n.stderr}`).join("\n")}`);
      await Bun.sleep(10);
    }
  }

  /** Every instance connected to StackStorm's stream. */
  async ready(): Promise<void> {
    const led = () => !this.redis && !this.primaryPort ? true : this.leaderName() !== undefined;
    await this.until("every instance on the stream and a leader elected", () => this.emulator.streamCount >= this.nodes.filter((n) => n.running).length && led());
  }

  /** Ids among `ids` never delivered. */
  missing(ids: string[]): string[] {
    return ids.filter((id) => !this.counts.has(id));
  }

  duplicated(ids: string[]): number {
    return ids.filter((id) => (this.counts.get(id) ?? 0) > 1).length;
  }

  async stop(): Promise<void> {
    for (const n of this.nodes) if (n.running) await n.signal("SIGKILL").catch(() => undefined);
    await this.emulator?.stop();
    await this.redis?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
