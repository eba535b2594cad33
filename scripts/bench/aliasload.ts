/**
 * Loading 5,000 aliases (3 representations each) from StackStorm: how long st2bot's alias
 * cache takes to page through them and build its index, and st2bot's resident memory after
 * (right after a full GC, and again after 2 s idle), with the JS heap's share of it.
 * The emulator runs in this process; st2bot's side runs in a child, so its RSS is its own.
 *
 *   bun scripts/bench/aliasload.ts [aliases=5000]
 */
import { startEmulator } from "../../src/emulator/index.ts";
import type { AliasInput } from "../../src/emulator/types.ts";

const COUNT = Number(process.argv[2] ?? 5000);
const KEY = "aliasload-key-0123456789";

if (process.argv[2] === "--child") {
  const { heapStats } = await import("bun:jsc");
  const { parseConfig } = await import("../../src/config/load.ts");
  const { St2Client } = await import("../../src/st2/client.ts");
  const { AliasCache } = await import("../../src/st2/aliascache.ts");
  const config = parseConfig(`[stackstorm]\napi_url = "${process.argv[3]}"\n[stackstorm.api_auth]\napikey = "${KEY}"\n`, "<bench>");
  const mb = (bytes: number) => bytes / 1048576;
  const before = process.memoryUsage().rss;
  const t0 = performance.now();
  const cache = new AliasCache({ load: () => St2Client.fromConfig(config).listAliases() });
  if (!(await cache.refresh())) throw new Error(cache.lastError);
  const ms = performance.now() - t0;
  Bun.gc(true);
  const rssMb = mb(process.memoryUsage().rss);
  const heap = heapStats();
  // The allocator hands freed pages back to the system a little later: the idle figure is
  // what a running bot holds once the load's garbage is gone.
  await Bun.sleep(2000);
  Bun.gc(true);
  const idleMb = mb(process.memoryUsage().rss);
  const r = cache.index.match("tool17 scale service17 web to prod");
  const out = { ms, aliases: cache.index.size, rssMb, idleMb, heapMb: mb(heap.heapSize), heapCapacityMb: mb(heap.heapCapacity), baseMb: mb(before), sample: r.kind };
  console.log(JSON.stringify(out));
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
const out = JSON.parse(await new Response(child.stdout).text()) as { ms: number; aliases: number; rssMb: number; idleMb: number; heapMb: number; heapCapacityMb: number; baseMb: number; sample: string };
await emulator.stop();
const f = (n: number) => n.toFixed(0);
console.log(`loaded ${out.aliases} aliases (${out.aliases * 3} representations, pages of 100) and built the index in ${f(out.ms)} ms`);
console.log(`st2bot process RSS after load: ${f(out.rssMb)} MB (${f(out.baseMb)} MB before loading); ${f(out.idleMb)} MB after 2 s idle`);
console.log(`JS heap after load: ${out.heapMb.toFixed(1)} MB live, ${out.heapCapacityMb.toFixed(1)} MB reserved; sample match: ${out.sample}`);
