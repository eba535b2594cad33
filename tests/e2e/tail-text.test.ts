/**
 * Live output on the terminal backend, which cannot edit: a sequence of messages through the
 * outbox, each with only the output that is new (no line twice, none missing), a long stretch
 * capped to its tail, closed with the final status. `stackstorm.live_output = true` follows every
 * alias; an alias's own `extra.st2bot.live_output = false` still wins.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp, type App } from "../../src/app.ts";
import { TextBackend, type TextIO } from "../../src/chat/text.ts";
import { API_KEY, configFor } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";
import { assertNoViolations, startTestEmulator, type TestEmulator } from "../support/emulator.ts";

const INTERVAL_MS = 250;
const STEPS = Array.from({ length: 8 }, (_, i) => `step ${i}\n`);
const LONG = Array.from({ length: 300 }, (_, i) => `long ${String(i).padStart(3, "0")} ${"y".repeat(20)}\n`).join(""); // 9,000 characters
const PIECES = [...STEPS.slice(0, 4), LONG, ...STEPS.slice(4)];

/** Terminal input the test types into, and everything the bot wrote. */
function terminal(): TextIO & { type(line: string): void; writes: string[] } {
  const queue: string[] = [];
  let wake: (() => void) | undefined;
  const writes: string[] = [];
  return {
    interactive: false,
    writes,
    write: async (t) => void writes.push(t),
    type(line) {
      queue.push(line);
      wake?.();
    },
    lines: (async function* () {
      for (;;) {
        while (queue.length) yield queue.shift()!;
        await new Promise<void>((r) => (wake = r));
      }
    })(),
  };
}

let st2: TestEmulator;
let app: App;
let io: ReturnType<typeof terminal>;
let dataDir: string;

beforeAll(async () => {
  st2 = await startTestEmulator({
    apiKeys: [API_KEY],
    completionDelayMs: 20,
    actions: [{ ref: "ops.build", runner: "local-shell-cmd", output: { pieces: PIECES, intervalMs: 120 } }],
    aliases: [
      { name: "build", pack: "ops", action_ref: "ops.build", formats: ["build {{app}}"] },
      { name: "build_quiet", pack: "ops", action_ref: "ops.build", formats: ["quietly build {{app}}"], extra: { st2bot: { live_output: false } } },
    ],
  });
  dataDir = mkdtempSync(join(tmpdir(), "st2bot-tail-text-"));
  const config = configFor(st2, dataDir, {
    auth: `live_output = true\nlive_output_interval = ${INTERVAL_MS / 1000}\n[stackstorm.api_auth]\napikey = "${API_KEY}"`,
  });
  io = terminal();
  io.type("/in #ops");
  app = await startApp({ config, backend: new TextBackend(config, io) });
});
afterAll(async () => {
  await app?.stop();
  await st2?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  assertNoViolations(st2);
});

const messages = () => io.writes.map((w) => w.replace(/^\[#ops\] ?/gm, ""));

test("every alias is followed as a sequence of messages: each new stretch once, a long one capped, then the status", async () => {
  io.type("!st2 build shop");
  // The closing line may share a write with the result announcement (the terminal writes a batch
  // of queued messages at once): look for it line by line.
  const closingLine = () => messages().flatMap((m) => m.split("\n")).find((l) => l.startsWith("✅ ops.build"));
  const closing = await waitFor("the closing line", closingLine, 15_000);
  const ex = st2.executions.find((e) => e.action.ref === "ops.build")!;
  expect(closing).toContain("succeeded after");
  expect(closing).toContain(`/#/history/${ex.id}/general`);
  const all = messages();
  const ack = all.findIndex((m) => m.includes(ex.id) && !m.startsWith("✅") && !m.includes("status : "));
  const parts = all.filter((m) => m.startsWith("ops.build "));
  expect(ack).toBeGreaterThanOrEqual(0);
  expect(all.indexOf(parts[0]!)).toBeGreaterThan(ack);
  // The closing line after the last part (the same write may hold both).
  const text = all.join("\n");
  expect(text.indexOf(closing)).toBeGreaterThan(text.lastIndexOf("```"));
  // At most one message per interval over a run of ~1.3 s, none with nothing new.
  expect(parts.length).toBeGreaterThanOrEqual(2);
  expect(parts.length).toBeLessThanOrEqual(Math.ceil(2500 / INTERVAL_MS));
  // One write may hold several messages (the terminal writes queued messages at once): every block.
  const bodies = parts.flatMap((p) => [...p.matchAll(/```\n([\s\S]*?)\n```/g)].map((m) => m[1]!));
  // No step twice, in order; the stretch the long piece arrived in is shown by its tail only
  // (steps that came just before it in the same interval may be among what it left out).
  const steps = bodies.join("\n").split("\n").filter((l) => l.startsWith("step "));
  expect(new Set(steps).size).toBe(steps.length);
  expect(steps).toEqual([...steps].sort());
  expect(steps).toContain("step 0");
  expect(steps.slice(-4)).toEqual(["step 4", "step 5", "step 6", "step 7"]);
  const capped = parts.find((p) => p.includes("long 299"))!;
  expect(capped).toMatch(/\(\d[\d,]* earlier characters not shown: full output at http:\/\/127\.0\.0\.1:\d+\/#\/history\/[0-9a-f]{24}\/general\)/);
  expect(capped).not.toContain("long 000");
  expect(capped.length).toBeLessThan(3000 + 400);
}, 20_000);

test("an alias that says live_output = false is not followed, whatever the config", async () => {
  const before = io.writes.length;
  io.type("!st2 quietly build shop");
  const done = await waitFor("the result", () => messages().slice(before).find((m) => m.includes("status : succeeded")), 15_000);
  expect(done).toBeDefined();
  await Bun.sleep(INTERVAL_MS * 2);
  expect(messages().slice(before).filter((m) => m.startsWith("ops.build ") || m.startsWith("✅"))).toEqual([]);
}, 20_000);
