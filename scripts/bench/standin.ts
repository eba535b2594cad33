/**
 * The StackStorm stand-in for scripts/bench/outside.ts: the emulator in a process of its own,
 * so the bot under test shares nothing with it but loopback.
 *
 *   bun scripts/bench/standin.ts [aliases=238] [completionDelayMs=2]
 *
 * `aliases` 238 is the 198 real exchange aliases plus 40 samples; any other number is that many
 * synthetic aliases of three representations each (aliasload.ts's shape). Every alias acks with
 * the one line `ack` and announces its result as `done` (no URL), so the harness can tell the
 * two apart on the bot's stdout; the formats st2bot matches stay as they are.
 *
 * Prints `url <base url> <api key>` once listening, then one line per request as it arrives
 * (before its body is read): `t <ms> <METHOD> <path>`, the clock being
 * `performance.timeOrigin + performance.now()`, comparable across processes to a few µs.
 * On stdin, `burst <n> <channel>` publishes n announcements as fast as it can (500 per turn of
 * the event loop, as a busy StackStorm writes them) and prints `burst <first ms> <last ms>`.
 */
import { join } from "node:path";
import { startEmulator } from "../../src/emulator/index.ts";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import type { AliasInput } from "../../src/emulator/types.ts";
import { loadAliasFiles } from "../../src/st2/aliases/load.ts";

export const STANDIN_KEY = "outside-bench-api-key-0123456789";
const EXCHANGE = join(import.meta.dir, "..", "..", "..", "shared", "reference", "st2", "exchange-aliases");
const now = () => performance.timeOrigin + performance.now();

/** The aliases of the benchmark: 198 real + 40 samples, or `count` synthetic ones. */
export async function benchAliases(count: number): Promise<AliasInput[]> {
  let aliases: AliasInput[];
  if (count === 238) {
    const real = (await loadAliasFiles([EXCHANGE])).aliases as unknown as AliasInput[];
    aliases = [...real, ...sampleAliases, ...synthetic(40 - sampleAliases.length, "sample")];
  } else {
    aliases = synthetic(count, "tool");
  }
  // StackStorm runs an alias execution by name: keep names unique (a few packs share some).
  const seen = new Set<string>();
  return aliases.map((a) => {
    let name = a.name;
    while (seen.has(name)) name += "_2";
    seen.add(name);
    return { ...a, name, ack: { enabled: true, format: "ack", append_url: false }, result: { enabled: true, format: "done" } };
  });
}

function synthetic(count: number, stem: string): AliasInput[] {
  const verbs = ["deploy", "restart", "scale", "show", "list"];
  return Array.from({ length: count }, (_, i) => {
    const base = `${stem}${i % 250} ${verbs[i % verbs.length]} service${i}`;
    return {
      name: `${stem}_alias${i}`,
      pack: `${stem}pack${i % 250}`,
      action_ref: `${stem}pack${i % 250}.action${i}`,
      description: `Action number ${i} of the benchmark`,
      formats: [{ display: `${base} <name>`, representation: [`${base} {{name}}`, `${base} {{name}} to {{env=staging}}`, `${base} {{name}} with {{count=1}} replicas`] }],
    };
  });
}

if (import.meta.main) {
  const count = Number(process.argv[2] ?? 238);
  const out = (line: string) => process.stdout.write(line + "\n");
  const emulator = await startEmulator({
    aliases: await benchAliases(count),
    actions: sampleActions,
    apiKeys: [STANDIN_KEY],
    completionDelayMs: Number(process.argv[3] ?? 2),
    heartbeatMs: 5_000,
    onArrival: (method, path) => out(`t ${now().toFixed(3)} ${method} ${path}`),
  });
  out(`url ${emulator.url} ${STANDIN_KEY}`);
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of Bun.stdin.stream() as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const [cmd, n, channel] = buffer.slice(0, nl).split(" ");
      buffer = buffer.slice(nl + 1);
      if (cmd !== "burst") continue;
      const first = now();
      for (let i = 0; i < Number(n); i++) {
        emulator.announce("errbot", { message: `burst ${i}`, channel });
        if (i % 500 === 499) await new Promise((resolve) => setImmediate(resolve));
      }
      out(`burst ${first.toFixed(3)} ${now().toFixed(3)}`);
    }
  }
  await emulator.stop();
}
