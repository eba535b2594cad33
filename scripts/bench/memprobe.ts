/**
 * Where st2bot's resident memory goes, module by module: compiled like dist/st2bot (bytecode,
 * chunks, the same bytecode order and JIT policy) by scripts/bench/startup.ts, then run against
 * a stand-in. Loads st2bot's parts one after the other, each followed by a full GC, and prints
 * one JSON line per step: RSS by kind (smaps.ts) and the JS heap.
 *
 *   memprobe <stand-in url> <api key> <data dir>
 */
import { heapStats } from "bun:jsc";
import { memorySplit } from "./smaps.ts";

const [url, key, dir] = process.argv.slice(2) as [string, string, string];

function sample(step: string): void {
  Bun.gc(true);
  console.log(JSON.stringify({ step, ...memorySplit(), heap: heapStats().heapSize / 1048576 }));
}

const settle = () => Bun.sleep(150);
sample("Bun runtime (nothing of st2bot)");
const { parseConfig } = await import("../../src/config/load.ts");
const { BACKEND_SECTIONS } = await import("../../src/chat/registry.ts");
const config = parseConfig(
  `[bot]\ndata_dir = ${JSON.stringify(dir)}\n[web]\nport = 0\n[stackstorm]\napi_url = "${url}/api/v1"\nauth_url = "${url}/auth/v1"\nstream_url = "${url}/stream/v1"\n[stackstorm.api_auth]\napikey = "${key}"\n[text]\nroom = "bench"\n`,
  "<probe>",
  {},
  BACKEND_SECTIONS,
);
sample("config (smol-toml, valibot schema)");
const { openDatabase } = await import("../../src/store/db.ts");
openDatabase(`${dir}/probe.sqlite`).close();
sample("store (bun:sqlite, a database opened)");
const { St2Client } = await import("../../src/st2/client.ts");
const { AliasCache } = await import("../../src/st2/aliascache.ts");
let cache: InstanceType<typeof AliasCache> | undefined = new AliasCache({ load: () => St2Client.fromConfig(config).listAliases() });
await cache.refresh();
sample(`st2 client + alias engine, ${cache.index.size} aliases loaded and indexed`);
cache = undefined;
await import("../../src/bot/index.ts");
await import("../../src/delivery/outbox.ts");
sample("bot (router, commands, ACL) and delivery modules");
const { createServer } = await import("../../src/web/server.ts");
await import("../../src/web/webhook.ts");
await import("../../src/web/login.ts");
await import("../../src/web/metrics.ts");
const web = createServer({ config: config.web, plugins: [] });
await web.listen();
await settle();
sample("web modules (Elysia) and a server listening");
await web.stop();
await import("../../src/st2/stream.ts");
await import("../../src/chat/text.ts");
sample("stream (eventsource-client) and the text backend modules");
const { startApp } = await import("../../src/app.ts");
const app = await startApp({ config });
while (app.streamState().state !== "open") await Bun.sleep(10);
await settle();
sample("st2bot running (its own alias cache, stream open, outbox started)");
await Bun.sleep(1000);
sample("the same, 1 s idle");
await app.stop();
process.exit(0);
