/**
 * Where JavaScriptCore's collections land relative to chat commands, in process: st2bot's app
 * against the stand-in (scripts/bench/standin.ts, a process of its own), the outside
 * benchmark's commands one at a time, the next once the previous one's ack and result were
 * sent. For each command it tells whether a collection ran between the line and the
 * /aliasexecution request (the window scripts/bench/outside.ts's p99 measures), between the
 * request and the ack, or between commands. A profiling aid for lib/load.ts's CommandGarbage.
 *
 *   bun scripts/bench/gc-window.ts [commands=1000] [--every N] [--types]
 *
 * `--every N` sets CommandGarbage's count (0: never collect between commands, as before it).
 * How a collection is seen: a WeakRef to an object made in an earlier turn of the event loop
 * is empty after any collection (eden or full).
 * `--types`: what a command allocates, by phase (line → match → matched → request → ack →
 * result) and JavaScriptCore cell type: bun:jsc `heapStats().objectTypeCounts` counts the cells
 * allocated since the last collection too, so one eden collection before a command and a count
 * at each phase boundary give the cells each phase made (60 commands; samples during which
 * JavaScriptCore collected are dropped). A count itself makes ~180 Object and 100-220 Structure
 * cells (its result object): printed apart, and those two types are not reliable per phase.
 * It prints; it is never a test.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp } from "../../src/app.ts";
import { MemoryBackend } from "../../src/chat/memory.ts";
import type { Outgoing, Target } from "../../src/chat/types.ts";
import { parseConfig } from "../../src/config/load.ts";
import { CommandGarbage, commandGarbage } from "../../src/lib/load.ts";
import { compileFormat } from "../../src/st2/aliases/format.ts";
import { AliasIndex } from "../../src/st2/aliases/index.ts";
import { formatPatterns, type ActionAlias } from "../../src/st2/aliases/types.ts";
import { StandIn } from "./outside-processes.ts";
import { benchAliases } from "./standin.ts";

const N = Number(process.argv.slice(2).find((a) => !a.startsWith("--")) ?? 1000);
const everyAt = process.argv.indexOf("--every");
const every = everyAt > 0 ? Number(process.argv[everyAt + 1]) : undefined;
if (every !== undefined) Object.assign(commandGarbage, new CommandGarbage({ every: every > 0 ? every : Number.MAX_SAFE_INTEGER }));

const standin = new StandIn(238);
await standin.ready();
const aliases = (await benchAliases(238)) as unknown as ActionAlias[];
const index = new AliasIndex(aliases);
const commands: string[] = [];
for (const a of aliases) {
  for (const { representation } of formatPatterns(a.formats)) {
    try {
      const command = compileFormat(representation).exampleCommand((name, i) => `${name.replace(/\W/g, "")}${i + 1}`);
      const m = index.match(command);
      if (m.kind === "match" && m.match.alias.name === a.name && m.match.representation === representation) commands.push(command);
    } catch {
      // a format JavaScript cannot run
    }
  }
}
const dir = mkdtempSync(join(tmpdir(), "st2bot-gcwindow-"));
const config = parseConfig(
  `[bot]\ndata_dir = ${JSON.stringify(dir)}\n[web]\nenabled = false\n[stackstorm]\napi_url = "${standin.url}/api/v1"\nauth_url = "${standin.url}/auth/v1"\nstream_url = "${standin.url}/stream/v1"\n[stackstorm.api_auth]\napikey = "${standin.key}"\n`,
  "<gc-window>",
);

/** Made in one turn, read in a later one: empty once any collection ran in between. */
let sentinel = new WeakRef({});
const collected = () => sentinel.deref() === undefined;
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
let beforeRequest = false;
/** `--types`: called at each phase boundary of the command being sampled. */
let stamp: (() => void) | undefined;
const fetchSpy = ((input: string | URL, init?: RequestInit) => {
  if (String(input).endsWith("/aliasexecution")) {
    stamp?.();
    beforeRequest = collected();
    sentinel = new WeakRef({});
  }
  return fetch(input, init as never);
}) as never;
/** Tells the harness about every message the bot sends, so it waits without polling (which allocates). */
class WatchedBackend extends MemoryBackend {
  onSent: ((text: string) => void) | undefined;
  override async send(target: Target, msg: Outgoing): Promise<void> {
    await super.send(target, msg);
    this.onSent?.(msg.text);
  }
}
const backend = new WatchedBackend({ name: "text" });
const app = await startApp({ config, backend, fetch: fetchSpy });
while (app.streamState().state !== "open") await Bun.sleep(10);

const counts = { beforeRequest: 0, requestToAck: 0, between: 0 };
async function one(command: string, count: boolean): Promise<void> {
  backend.sent.length = 0;
  sentinel = new WeakRef({});
  await turn();
  beforeRequest = false;
  let acked = false;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no result for "${command}"`)), 5000);
    backend.onSent = (text) => {
      if (text === "ack" && !acked) {
        acked = true;
        stamp?.();
        if (count && collected()) counts.requestToAck++;
        sentinel = new WeakRef({});
      } else if (text === "done") {
        clearTimeout(timer);
        resolve();
      }
    };
  });
  await backend.receive({ text: `!st2 ${command}` });
  await done;
  if (count && beforeRequest) counts.beforeRequest++;
  // The harness's gap before the next line (outside.ts writes it once the result is read).
  await Bun.sleep(0.3);
  if (count && collected()) counts.between++;
}
for (const c of commands) await one(c, false);
if (process.argv.includes("--types")) await byType();
for (let i = 0; i < N; i++) await one(commands[(i * 7919) % commands.length]!, true);
console.log(`gc-window: ${N} commands, CommandGarbage every ${every ?? "default"}: a collection between line and request in ${counts.beforeRequest}, between request and ack in ${counts.requestToAck}, after the ack (until the next line) in ${counts.between}`);
await app.stop();
await standin.child.stop();
rmSync(dir, { recursive: true, force: true });

/** `--types`: cells allocated per command by phase and type (see the header). */
async function byType(): Promise<void> {
  const { edenGC, heapStats } = await import("bun:jsc");
  const count = () => heapStats().objectTypeCounts as Record<string, number>;
  const names = ["(one count itself)", "line → match", "match", "match → request", "request → ack", "ack → result"];
  const sums: Record<string, number>[] = names.map(() => ({}));
  const match = AliasIndex.prototype.match;
  AliasIndex.prototype.match = function (this: AliasIndex, text: string) {
    stamp?.();
    const outcome = match.call(this, text);
    stamp?.();
    return outcome;
  };
  let samples = 0;
  for (let k = 0; k < 60; k++) {
    await Bun.sleep(20);
    edenGC();
    await turn();
    const guard = new WeakRef({});
    await turn();
    const counts = [count()];
    counts.push(count());
    stamp = () => void counts.push(count());
    await one(commands[(k * 7919) % commands.length]!, false);
    counts.push(count());
    stamp = undefined;
    if (guard.deref() === undefined || counts.length !== 7) continue;
    samples++;
    // counts: [0] [1] back to back, [2] at the line (one() stamps nothing before receive: the
    // harness's own few cells fall in "line → match"), then match start/end, request, ack, result.
    const bounds: [number, number][] = [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 6]];
    bounds.forEach(([a, b], i) => {
      for (const [t, n] of Object.entries(counts[b]!)) sums[i]![t] = (sums[i]![t] ?? 0) + n - (counts[a]![t] ?? 0);
    });
  }
  AliasIndex.prototype.match = match;
  console.log(`cells allocated per command (${samples} commands sampled), by phase and type:`);
  names.forEach((name, i) => {
    const rows = Object.entries(sums[i]!).map(([t, n]) => [t, n / samples] as const).filter(([, n]) => n >= 0.5).sort((x, y) => y[1] - x[1]);
    console.log(`  ${name}: ${rows.map(([t, n]) => `${t} ${n.toFixed(1)}`).join(", ")}`);
  });
}
