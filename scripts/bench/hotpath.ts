/**
 * The bot's own work per chat command, in process: the message handed to the router → the
 * /aliasexecution fetch called, with the outside benchmark's 238 aliases and its commands.
 * A profiling aid for `scripts/bench/outside.ts` (whose line → request figure this is the
 * in-binary part of): run it under `bun --cpu-prof --cpu-prof-interval=100` to see where the
 * microseconds go.
 *
 *   bun scripts/bench/hotpath.ts [commands=5000] [--idle MS]
 *
 * It prints; it is never a test.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp } from "../../src/app.ts";
import { MemoryBackend } from "../../src/chat/memory.ts";
import { parseConfig } from "../../src/config/load.ts";
import { startEmulator } from "../../src/emulator/index.ts";
import { compileFormat } from "../../src/st2/aliases/format.ts";
import { AliasIndex } from "../../src/st2/aliases/index.ts";
import { formatPatterns, type ActionAlias } from "../../src/st2/aliases/types.ts";
import { benchAliases, STANDIN_KEY } from "./standin.ts";

const COMMANDS = Number(process.argv[2] ?? 5000);
/** `--idle MS`: wait between commands, as a person (and outside.ts, ~3 ms per command) does: caches go cold. */
const IDLE = process.argv.includes("--idle") ? Number(process.argv[process.argv.indexOf("--idle") + 1]) : 0;
const aliases = await benchAliases(238);
const emulator = await startEmulator({ aliases, apiKeys: [STANDIN_KEY], completionDelayMs: 600_000 });
const dataDir = mkdtempSync(join(tmpdir(), "st2bot-hotpath-"));
const config = parseConfig(
  `[bot]\ndata_dir = ${JSON.stringify(dataDir)}\n[web]\nenabled = false\n[stackstorm]\napi_url = "${emulator.apiUrl}"\nauth_url = "${emulator.authUrl}"\nstream_url = "${emulator.streamUrl}"\n[stackstorm.api_auth]\napikey = "${STANDIN_KEY}"\n`,
  "<hotpath>",
);

// The commands the outside benchmark types: each alias's formats, filled in, matching back to it.
const index = new AliasIndex(aliases as unknown as ActionAlias[]);
const commands: string[] = [];
for (const a of aliases as unknown as ActionAlias[]) {
  for (const { representation } of formatPatterns(a.formats)) {
    try {
      const command = compileFormat(representation).exampleCommand((name, i) => `${name.replace(/\W/g, "")}${i + 1}`);
      const m = index.match(command);
      if (m.kind === "match" && m.match.alias.name === a.name) commands.push(command);
    } catch {
      // a format JavaScript cannot run: the outside benchmark leaves it out too
    }
  }
}

let called = 0;
const timedFetch = (async (input: string | URL, init?: RequestInit) => {
  if (String(input).endsWith("/aliasexecution")) called = performance.now();
  return fetch(input, init as never);
}) as never;
const backend = new MemoryBackend({ name: "text" });
const app = await startApp({ config, backend, fetch: timedFetch });

const took: number[] = [];
for (let i = 0; i < COMMANDS + commands.length; i++) {
  const start = performance.now();
  called = 0;
  await backend.receive({ text: `!st2 ${commands[i % commands.length]}` });
  if (IDLE) await Bun.sleep(IDLE);
  // The first pass warms every format (the outside benchmark shows first use apart).
  if (i >= commands.length && called) took.push((called - start) * 1000);
}
took.sort((a, b) => a - b);
const pct = (p: number) => took[Math.min(took.length - 1, Math.floor((p / 100) * took.length))]!.toFixed(1);
console.log(`hotpath: ${took.length} commands over ${commands.length} distinct, ${index.size} aliases: message → fetch called p50 ${pct(50)} µs, p90 ${pct(90)} µs, p99 ${pct(99)} µs`);
await app.stop();
await emulator.stop();
rmSync(dataDir, { recursive: true, force: true });
