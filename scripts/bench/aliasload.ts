/**
 * Loading 5,000 aliases (3 representations each) from StackStorm: how long st2bot's alias
 * cache takes to page through them and build its index, and st2bot's resident memory after.
 * The emulator runs in this process; st2bot's side runs in a child, so its RSS is its own.
 *
 *   bun scripts/bench/aliasload.ts [aliases=5000]
 */
import { startEmulator } from "../../src/emulator/index.ts";
import type { AliasInput } from "../../src/emulator/types.ts";

const COUNT = Number(process.argv[2] ?? 5000);
const KEY = "aliasload-key-0123456789";

if (process.argv[2] === "--child") {
  const { parseConfig } = await import("../../src/config/load.ts");
  const { St2Client } = await import("../../src/st2/client.ts");
  const { AliasCache } = await import("../../src/st2/aliascache.ts");
  const config = parseConfig(`[stackstorm]\napi_url = "${process.argv[3]}"\n[stackstorm.api_auth]\napikey = "${KEY}"\n`, "<bench>");
  const before = process.memoryUsage().rss;
  const t0 = performance.now();
  const cache = new AliasCache({ load: () => St2Client.fromConfig(config).listAliases() });
  if (!(await cache.refresh())) throw new Error(cache.lastError);
  const ms = performance.now() - t0;
  Bun.gc(true);
  const r = cache.index.match("tool17 deploy service17 web to prod");
  console.log(JSON.stringify({ ms, aliases: cache.index.size, rssMb: process.memoryUsage().rss / 1048576, baseMb: before / 1048576, sample: r.kind }));
  process.exit(0);
}

const verbs = ["deploy", "restart", "scale", "show", "list"];
const aliases: AliasInput[] = Array.from({ length: COUNT }, (_, i) => {
  const base = `tool${i % 250} ${verbs[i % verbs.length]} service${i}`;
  return {
    name: `alias${i}`,
    pack: `pack${i % 250}`,
    action_ref: `pack${i % 250}.action${i}`,
    description: `Action number ${i} of the benchmark`,
    formats: [{ display: `${base} <name>`, representation: [`${base} {{name}}`, `${base} {{name}} to {{env=staging}}`, `${base} {{name}} with {{count=1}} replicas`] }],
  };
});
const emulator = await startEmulator({ aliases, apiKeys: [KEY], admins: [] });
const child = Bun.spawn([process.execPath, import.meta.path, "--child", emulator.apiUrl], { stdout: "pipe", stderr: "inherit" });
const out = JSON.parse(await new Response(child.stdout).text()) as { ms: number; aliases: number; rssMb: number; baseMb: number };
await emulator.stop();
console.log(`loaded ${out.aliases} aliases (${out.aliases * 3} representations, pages of 100) and built the index in ${out.ms.toFixed(0)} ms`);
console.log(`st2bot process RSS after load: ${out.rssMb.toFixed(0)} MB (${out.baseMb.toFixed(0)} MB before loading)`);
