/**
 * One follow against the StackStorm emulator, with the sink recorded: what the live message
 * would show at every step is a prefix of the real output (the catch-up read and the stream
 * never duplicate nor drop a piece), the last show is all of it, and a place that keeps
 * refusing the message is given up on while the closing line still goes out.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import { St2Client } from "../../src/st2/client.ts";
import { LiveTail } from "../../src/bot/tail/follow.ts";
import type { OutputBuffer } from "../../src/bot/tail/output.ts";
import type { TailView } from "../../src/bot/tail/render.ts";
import { SendError } from "../../src/lib/errors.ts";
import { assertNoViolations, startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import {  } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";

const KEY = "tail-follow-key-0123456789";
const PIECES = Array.from({ length: 24 }, (_, i) => `piece ${i}\n`);
const OUTPUT = PIECES.join("");

let st2: TestEmulator;
let client: St2Client;

beforeAll(async () => {
  st2 = await startTestEmulator({ apiKeys: [KEY], completionDelayMs: 5, actions: [{ ref: "ops.print", runner: "local-shell-cmd", output: { pieces: PIECES, intervalMs: 25 } }] });
  const config = parseConfig(
    `[stackstorm]\napi_url = "${st2.apiUrl}"\nauth_url = "${st2.authUrl}"\nstream_url = "${st2.streamUrl}"\n[stackstorm.api_auth]\napikey = "${KEY}"`,
    "<test>",
    {},
  );
  client = St2Client.fromConfig(config);
});
afterAll(async () => {
  await st2.stop();
  assertNoViolations(st2);
});

async function started(): Promise<string> {
  const res = await fetch(`${st2.apiUrl}/executions`, { method: "POST", headers: { "St2-Api-Key": KEY, "content-type": "application/json" }, body: JSON.stringify({ action: "ops.print" }) });
  return ((await res.json()) as { id: string }).id;
}

function follow(id: string, sink: { show(view: TailView, out: OutputBuffer): Promise<void> }) {
  const replies: string[] = [];
  let ended = false;
  return {
    replies,
    ended: () => ended,
    start: async () => {
      const tail = new LiveTail({
        execution: await client.getExecution(id),
        shown: id.slice(-6),
        client,
        sink,
        reply: async (text) => void replies.push(text),
        intervalMs: 40,
        maxFollowMs: 60_000,
        showAtOnce: true,
        onEnd: () => (ended = true),
      });
      tail.start();
      return tail;
    },
  };
}

test("joined mid-run: every show is a prefix of the output, the last is all of it", async () => {
  const id = await started();
  await Bun.sleep(150); // about six pieces printed before the follow starts
  const shown: { text: string; status: string }[] = [];
  const f = follow(id, { show: async (view, out) => void shown.push({ text: out.tail(1_000_000).text, status: view.status }) });
  await f.start();
  await waitFor("the end", () => f.ended(), 10_000);
  expect(shown.length).toBeGreaterThanOrEqual(3);
  for (const s of shown) expect(OUTPUT.startsWith(s.text)).toBe(true);
  expect(shown[0]!.text.length).toBeGreaterThan(0); // the catch-up read brought what came before
  expect(shown.at(-1)).toEqual({ text: OUTPUT, status: "succeeded" });
  expect(f.replies).toHaveLength(1);
  expect(f.replies[0]).toStartWith(`✅ ops.print ${id.slice(-6)}: succeeded after`);
});

test("pieces that arrive while the catch-up read is slow are neither lost nor shown twice", async () => {
  const id = await started();
  await Bun.sleep(60);
  // The read answers 150 ms late with everything printed until then, and the stream brought
  // those same pieces meanwhile.
  st2.faults.stall(150, { count: 1, pathPrefix: `/api/v1/executions/${id}/output` });
  const shown: string[] = [];
  const f = follow(id, { show: async (_view, out) => void shown.push(out.tail(1_000_000).text) });
  await f.start();
  await waitFor("the end", () => f.ended(), 10_000);
  for (const s of shown) expect(OUTPUT.startsWith(s)).toBe(true);
  expect(shown.at(-1)).toBe(OUTPUT);
});

test("a place that keeps refusing the live message is given up on; the closing line still goes out", async () => {
  const id = await started();
  let shows = 0;
  const f = follow(id, {
    show: async () => {
      shows++;
      throw new SendError("Slack chat.postMessage failed: not_in_channel", false);
    },
  });
  await f.start();
  await waitFor("the end", () => f.ended(), 10_000);
  expect(shows).toBe(3);
  expect(f.replies[0]).toStartWith("✅ ops.print");
});
