/**
 * Nothing lost on the terminal backend: a real `st2bot run` whose stdout nobody reads. Messages
 * the webhook accepted stay in the outbox until the output took their bytes, and a kill -9
 * while the reader stalls loses none of them (issue 11, item 2: 1,434 of 1,500 were lost when a
 * send resolved as soon as `process.stdout.write` returned).
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { API_KEY } from "../support/bot.ts";
import { startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import { tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();

const root = join(import.meta.dir, "..", "..");
const TOKEN = "stall-test-webhook-token-0123456789abcdef";
const COUNT = 600;
/** 600 messages of ~420 bytes are about four times a Linux pipe's 64 KiB buffer. */
const PAD = "x".repeat(400);

let emulator: TestEmulator;
let dir: string;
beforeAll(async () => {
  emulator = await startTestEmulator({ apiKeys: [API_KEY] });
  dir = tmp("stall");
});
afterAll(async () => {
  await emulator.stop();
});

function freePort(): number {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

function spawnBot(configFile: string, stdout: "pipe" | ReturnType<typeof Bun.file>) {
  return Bun.spawn([process.execPath, join(root, "src", "main.ts"), "run", "-c", configFile], {
    stdin: "pipe",
    stdout,
    stderr: "ignore",
    env: { ...process.env, ST2BOT_LOG_LEVEL: "error", ST2BOT_LINGER_MS: "500" },
  });
}

/**
 * A reader that stalls on a real OS pipe (a FIFO): it opens the pipe at once, reads nothing until
 * `go()`, then passes everything on. (Bun.spawn's own stdout pipe would be drained eagerly by
 * the parent, so it never stalls.)
 */
function stalledReader(fifo: string) {
  const gate = `${fifo}.go`;
  Bun.spawnSync(["mkfifo", fifo]);
  const reader = Bun.spawn(["sh", "-c", 'exec 3<"$1"; while [ ! -e "$2" ]; do sleep 0.05; done; exec cat <&3', "sh", fifo, gate], { stdout: "pipe" });
  return { stdout: reader.stdout, go: () => writeFileSync(gate, ""), stop: () => reader.kill("SIGKILL") };
}

/** The message ids in everything `stream` carries until it ends. */
async function idsIn(stream: ReadableStream<Uint8Array>): Promise<string[]> {
  const text = await new Response(stream).text();
  return [...text.matchAll(/\] (m\d+) x/g)].map((m) => m[1]!);
}

const pendingRows = (db: string) => {
  const d = new Database(db, { readonly: true });
  try {
    return (d.query("SELECT count(*) AS n FROM outbox").get() as { n: number }).n;
  } finally {
    d.close();
  }
};

test("a stalled stdout reader: accepted messages stay in the outbox and survive kill -9", async () => {
  const port = freePort();
  const configFile = join(dir, "st2bot.toml");
  writeFileSync(
    configFile,
    `[bot]\ndata_dir = ${JSON.stringify(dir)}\n[web]\nport = ${port}\n[webhook]\ntoken = "${TOKEN}"\n` +
      `[stackstorm]\napi_url = "${emulator.apiUrl}"\nauth_url = "${emulator.authUrl}"\nstream_url = "${emulator.streamUrl}"\n` +
      `[stackstorm.api_auth]\napikey = "${API_KEY}"\n`,
  );
  const reader = stalledReader(join(dir, "stdout.fifo"));
  const first = spawnBot(configFile, Bun.file(join(dir, "stdout.fifo")));
  try {
    await stalledRun(port, first, reader);
  } finally {
    first.kill("SIGKILL");
    reader.stop();
  }
}, 90_000);

async function stalledRun(port: number, first: ReturnType<typeof spawnBot>, reader: ReturnType<typeof stalledReader>): Promise<void> {
  const configFile = join(dir, "st2bot.toml");
  const base = `http://127.0.0.1:${port}`;
  for (let deadline = Date.now() + 20_000; !(await fetch(`${base}/health`).then((r) => r.ok, () => false)); ) {
    if (Date.now() > deadline) throw new Error("st2bot did not start");
    await Bun.sleep(50);
  }
  const accepted: string[] = [];
  for (let i = 0; i < COUNT; i++) {
    const res = await fetch(`${base}/chatops/message`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ channel: `#ops${i % 4}`, message: `m${i} ${PAD}` }),
    });
    if (res.status === 202) accepted.push(`m${i}`);
  }
  expect(accepted.length).toBe(COUNT);
  // Whatever the pipe could take has been written by now; the rest must still be on disk.
  await Bun.sleep(1_500);
  first.kill("SIGKILL");
  await first.exited;
  // Read once it is dead: st2bot keeps its database to itself while it runs (store/db.ts).
  const pending = pendingRows(join(dir, "st2bot.sqlite"));
  expect(pending).toBeGreaterThan(COUNT - 65_536 / PAD.length);
  // What the killed process had written is still in the pipe: a late reader sees it.
  reader.go();
  const seen = new Set(await idsIn(reader.stdout));
  expect(seen.size).toBeLessThan(COUNT - pending + 64);

  const second = spawnBot(configFile, "pipe");
  second.stdin.end();
  for (const id of await idsIn(second.stdout as ReadableStream<Uint8Array>)) seen.add(id);
  await second.exited;
  expect(accepted.filter((id) => !seen.has(id))).toEqual([]);
  expect(pendingRows(join(dir, "st2bot.sqlite"))).toBe(0);
}
