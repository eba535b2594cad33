/**
 * Records scripts/st2bot.order, the profile scripts/build.ts lays the executable's bytecode out
 * by (Bun's `compile.bytecodeOrder`): the functions `st2bot run` uses go together at the front
 * of the embedded bytecode, so a running st2bot touches (and keeps resident) ~3 MB less of its
 * own file. The profile holds function hashes, no source; one from an older build still applies
 * (changed functions are placed after the recorded ones), so re-record now and then, not on
 * every change.
 *
 * The run recorded is the common one: a restart of `st2bot run` with the terminal backend and
 * the web server against the emulator, a few chat lines (a command, its result, help), stopped
 * by SIGTERM once idle.
 *
 *   bun scripts/bytecode-order.ts
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmulator } from "../src/emulator/index.ts";
import { sampleActions, sampleAliases } from "../src/emulator/samples.ts";

const root = join(import.meta.dir, "..");
const KEY = "bytecode-order-key-0123456789";
const dir = mkdtempSync(join(tmpdir(), "st2bot-order-"));
const emulator = await startEmulator({ aliases: sampleAliases, actions: sampleActions, apiKeys: [KEY] });
try {
  const build = Bun.spawnSync([process.execPath, join(root, "scripts", "build.ts"), "--outdir", join(dir, "dist")], { stdout: "inherit", stderr: "inherit" });
  if (build.exitCode !== 0) throw new Error("the build failed");
  const config = join(dir, "st2bot.toml");
  writeFileSync(config, `[bot]\ndata_dir = ${JSON.stringify(dir)}\n[web]\nport = 0\n[stackstorm]\napi_url = "${emulator.apiUrl}"\nauth_url = "${emulator.authUrl}"\nstream_url = "${emulator.streamUrl}"\n[stackstorm.api_auth]\napikey = "${KEY}"\n[text]\nroom = "bench"\n`);
  const profile = join(dir, "st2bot.order");
  for (const record of [false, true]) {
    // The first start creates the database; the one recorded is a restart.
    const env = { ...process.env, ST2BOT_LOG_LEVEL: "error", ...(record ? { BUN_BYTECODE_ORDER_OUT: profile } : {}) };
    const bot = Bun.spawn([join(dir, "dist", "st2bot"), "run", "-c", config], { stdin: "pipe", stdout: "pipe", stderr: "inherit", env });
    let out = "";
    const reading = (async () => {
      for await (const chunk of bot.stdout as unknown as AsyncIterable<Uint8Array>) out += new TextDecoder().decode(chunk);
    })();
    const waitFor = async (text: string) => {
      const deadline = Date.now() + 15_000;
      while (!out.includes(text)) {
        if (Date.now() > deadline) throw new Error(`st2bot did not print "${text}":\n${out}`);
        await Bun.sleep(10);
      }
    };
    for (const [line, expect] of [["!st2 pack list", "chatops"], ["!st2 run uptime on web1", "up 12 days"], ["!st2help", "pack list"], ["!help", "st2help"]] as const) {
      bot.stdin.write(`${line}\n`);
      bot.stdin.flush();
      await waitFor(expect);
    }
    await Bun.sleep(500);
    bot.kill("SIGTERM");
    await bot.exited;
    await reading;
  }
  renameSync(profile, join(root, "scripts", "st2bot.order"));
  console.log("wrote scripts/st2bot.order; rebuild (bun scripts/build.ts) to use it");
} finally {
  await emulator.stop();
  rmSync(dir, { recursive: true, force: true });
}
