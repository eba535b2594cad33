/**
 * The outside bench's processes (outside.ts): a child whose stdout lines are stamped as they
 * are read (st2bot, the floor, the stand-in), and the StackStorm stand-in with its request
 * stamps. Clocks: `performance.timeOrigin + performance.now()`, as in every bench process.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { compileFormat } from "../../src/st2/aliases/format.ts";
import { AliasIndex } from "../../src/st2/aliases/index.ts";
import { formatPatterns, type ActionAlias } from "../../src/st2/aliases/types.ts";
import { benchAliases } from "./standin.ts";

const bun = process.execPath;
const now = () => performance.timeOrigin + performance.now();

/** Every process started, so a failed run can end them all. */
export const children: Child[] = [];

/** A child whose stdout lines (those passing `keep`, all by default) are stamped as they are read. */
export class Child {
  readonly proc: Subprocess<"pipe", "pipe", "pipe">;
  readonly lines: { text: string; at: number }[] = [];
  stderr = "";
  /** Every stderr line, stamped as it is read, when the caller asks for them (`keepStderr`). */
  readonly errLines: { text: string; at: number }[] = [];
  keepStderr = false;
  private errBuffer = "";
  private wake: (() => void) | undefined;

  constructor(
    cmd: string[],
    env: Record<string, string> = {},
    private readonly keep: (line: string) => boolean = () => true,
  ) {
    this.proc = Bun.spawn(cmd, { stdin: "pipe", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
    children.push(this);
    void this.read();
    void this.readErr(this.proc.stderr);
  }

  private async readErr(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    for await (const c of stream as unknown as AsyncIterable<Uint8Array>) {
      const at = now();
      const text = decoder.decode(c, { stream: true });
      this.stderr = (this.stderr + text).slice(-3000);
      if (!this.keepStderr) continue;
      this.errBuffer += text;
      let nl: number;
      while ((nl = this.errBuffer.indexOf("\n")) >= 0) {
        this.errLines.push({ text: this.errBuffer.slice(0, nl), at });
        this.errBuffer = this.errBuffer.slice(nl + 1);
      }
    }
  }

  private async read(): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of this.proc.stdout as unknown as AsyncIterable<Uint8Array>) {
      const at = now();
      buffer += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const text = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (this.keep(text)) this.lines.push({ text, at });
      }
      this.wake?.();
    }
    this.wake?.();
  }

  write(text: string): void {
    this.proc.stdin.write(text);
    this.proc.stdin.flush();
  }

  /** Waits until `test` holds (checked as lines arrive, and every 50 ms). */
  async until(test: () => boolean, what: string, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!test()) {
      if (this.proc.exitCode !== null) throw new Error(`${what}: the process exited (${this.proc.exitCode})\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  }

  /** Waits for the first line at or after `from` that passes `test`; returns its index. */
  async waitLine(from: number, test: (s: string) => boolean, what: string, ms = 20_000): Promise<number> {
    let i = from;
    await this.until(() => {
      for (; i < this.lines.length; i++) if (test(this.lines[i]!.text)) return true;
      return false;
    }, what, ms);
    return i;
  }

  /** CPU time all of the process's threads spent on a CPU so far (/proc schedstat, ns), in milliseconds. */
  cpuMs(): number {
    let ns = 0;
    for (const task of readdirSync(`/proc/${this.proc.pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${this.proc.pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // The thread ended meanwhile.
      }
    }
    return ns / 1e6;
  }

  rssMb(): number {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${this.proc.pid}/status`, "utf8"))?.[1]) / 1024;
  }

  async stop(): Promise<void> {
    this.proc.kill("SIGTERM");
    await this.proc.exited;
  }
}

/** The stand-in: its URL, and its request stamps parsed as they arrive. */
export class StandIn {
  readonly child: Child;
  url = "";
  key = "";
  constructor(aliases: number) {
    this.child = new Child([bun, join(import.meta.dir, "standin.ts"), String(aliases)], { ST2BOT_LOG_LEVEL: "error" });
  }
  async ready(): Promise<void> {
    const i = await this.child.waitLine(0, (s) => s.startsWith("url "), "the stand-in");
    [, this.url, this.key] = this.child.lines[i]!.text.split(" ") as [string, string, string];
  }
  /** Stamps from line index `from` on: `{ at, method, path, index }`. */
  stamps(from: number, method: string, path: string): { at: number; index: number }[] {
    const out: { at: number; index: number }[] = [];
    for (let i = from; i < this.child.lines.length; i++) {
      const [t, at, m, p] = this.child.lines[i]!.text.split(" ");
      if (t === "t" && m === method && p === path) out.push({ at: Number(at), index: i });
    }
    return out;
  }
  async nextStamp(from: number, method: string, path: string, what: string): Promise<{ at: number; index: number }> {
    const i = await this.child.waitLine(from, (s) => s.endsWith(` ${method} ${path}`) && s.startsWith("t "), what);
    return { at: Number(this.child.lines[i]!.text.split(" ")[1]), index: i };
  }
}

/** Commands built from each alias's own formats that st2bot's engine maps back to that alias and format. */
export async function commandTable(standin: StandIn): Promise<Record<string, [string, string]>> {
  const aliases = (await benchAliases(238)) as unknown as ActionAlias[];
  const index = new AliasIndex(aliases);
  const table: Record<string, [string, string]> = {};
  let posts = 0;
  for (const a of aliases) {
    for (const { representation } of formatPatterns(a.formats)) {
      let command: string;
      try {
        command = compileFormat(representation).exampleCommand((name, i) => `${name.replace(/\W/g, "")}${i + 1}`);
      } catch {
        continue;
      }
      const m = index.match(command);
      if (m.kind !== "match" || m.match.alias.name !== a.name || m.match.representation !== representation) continue;
      // Keep only what StackStorm (the stand-in) accepts, so every line gets its ack.
      const res = await fetch(`${standin.url}/api/v1/aliasexecution`, {
        method: "POST",
        headers: { "St2-Api-Key": standin.key, "content-type": "application/json" },
        body: JSON.stringify({ name: a.name, format: representation, command, user: "alice", source_channel: "#bench" }),
      });
      if (res.status === 201) table[command] = [a.name, representation];
      posts++;
    }
  }
  // Its stamps must all be in before a run marks where its own begin.
  while (standin.stamps(0, "POST", "/api/v1/aliasexecution").length < posts) await Bun.sleep(10);
  return table;
}
