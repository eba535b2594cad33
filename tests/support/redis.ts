/**
 * A real Redis for the cluster tests: Debian's `redis-server` (and `redis-sentinel`) started on a
 * free loopback port in its own temporary directory, with its own config; restartable on the
 * same port and data (AOF when asked), killable with any signal. Tests skip when the binaries
 * are missing (scripts/setup-test-deps.sh installs them).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../scripts/fixture.ts";

const which = (cmd: string) => ["/usr/bin/", "/usr/sbin/", "/usr/local/bin/"].map((d) => d + cmd).find(existsSync);

/** True when redis-server is installed (and redis-sentinel, when `sentinel`). */
export function haveRedis(sentinel = false): boolean {
  return Boolean(which("redis-server")) && (!sentinel || Boolean(which("redis-sentinel")));
}

/** A free loopback port (bound, read, released: good enough with random choice by the kernel). */
export { freePort };

async function waitForPort(port: number, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const r = spawnSync(which("redis-cli") ?? "redis-cli", ["-p", String(port), "PING"], { encoding: "utf8" });
    if (r.stdout?.trim() === "PONG") return;
    await Bun.sleep(50);
  }
  throw new Error(`${what} did not answer on port ${port}`);
}

/** Options of one redis-server. */
export interface RedisServerOptions {
  appendonly?: boolean;
  appendfsync?: "always" | "everysec" | "no";
  /** Extra config lines. */
  extra?: string[];
  /** `replicaof` another server on loopback. */
  replicaOf?: number;
}

/** One redis-server process in its own directory. */
export class RedisServer {
  child?: ChildProcess;
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly opts: RedisServerOptions,
  ) {}

  /** Starts a server on a free port. */
  static async start(opts: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), mkdtempSync(join(tmpdir(), "st2bot-redis-")), opts);
    await server.run();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  /** (Re)starts the process on the same port and directory. */
  async run(): Promise<void> {
    const conf = join(this.dir, "redis.conf");
    writeFileSync(
      conf,
      [
        `port ${this.port}`,
        "bind 127.0.0.1",
        `dir ${this.dir}`,
        "save ''",
        `appendonly ${this.opts.appendonly ? "yes" : "no"}`,
        `appendfsync ${this.opts.appendfsync ?? "everysec"}`,
        // A replica syncs at once (Redis 7 waits 5 s for more replicas by default).
        "repl-diskless-sync-delay 0",
        ...(this.opts.replicaOf ? [`replicaof 127.0.0.1 ${this.opts.replicaOf}`] : []),
        ...(this.opts.extra ?? []),
      ].join("\n") + "\n",
    );
    this.child = spawn(which("redis-server")!, [conf], { stdio: "ignore" });
    await waitForPort(this.port, this.child, "redis-server");
  }

  /** Sends `signal` and waits for the exit. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill(signal);
    await exited;
  }

  /** Sends `signal` without waiting (SIGSTOP, SIGCONT: a Redis that hangs, then resumes). */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** A redis-cli command against this server: its output. */
  cli(...args: string[]): string {
    return spawnSync(which("redis-cli") ?? "redis-cli", ["-p", String(this.port), ...args], { encoding: "utf8" }).stdout.trim();
  }

  /** Stops the process and removes its directory. */
  async close(): Promise<void> {
    await this.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A primary, a replica and three Sentinels watching them as `mymaster` (quorum 2). */
export class SentinelSet {
  readonly sentinels: ChildProcess[] = [];
  readonly sentinelPorts: number[] = [];
  private constructor(
    readonly primary: RedisServer,
    readonly replica: RedisServer,
    private readonly dir: string,
  ) {}

  static async start(): Promise<SentinelSet> {
    const primary = await RedisServer.start({ appendonly: true });
    const replica = await RedisServer.start({ appendonly: true, replicaOf: primary.port });
    const set = new SentinelSet(primary, replica, mkdtempSync(join(tmpdir(), "st2bot-sentinel-")));
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(set.dir, `sentinel-${i}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          "bind 127.0.0.1",
          `dir ${set.dir}`,
          `sentinel monitor mymaster 127.0.0.1 ${primary.port} 2`,
          "sentinel down-after-milliseconds mymaster 1000",
          "sentinel failover-timeout mymaster 5000",
          "sentinel parallel-syncs mymaster 1",
        ].join("\n") + "\n",
      );
      const child = spawn(which("redis-sentinel") ?? which("redis-server")!, [conf, ...(which("redis-sentinel") ? [] : ["--sentinel"])], { stdio: "ignore" });
      set.sentinels.push(child);
      set.sentinelPorts.push(port);
      await waitForPort(port, child, "redis-sentinel");
    }
    return set;
  }

  /** The port the Sentinels currently name as primary. */
  primaryPort(): number {
    const out = spawnSync(which("redis-cli") ?? "redis-cli", ["-p", String(this.sentinelPorts[0]), "SENTINEL", "get-master-addr-by-name", "mymaster"], { encoding: "utf8" }).stdout;
    return Number(out.trim().split("\n")[1]);
  }

  async close(): Promise<void> {
    for (const s of this.sentinels) s.kill("SIGKILL");
    await this.primary.close();
    await this.replica.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
