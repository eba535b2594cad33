import { expect, test } from "bun:test";
import { join } from "node:path";
import { MemoryBackend } from "../../src/chat/memory.ts";
import { Outbox } from "../../src/delivery/outbox.ts";
import { setLogSink } from "../../src/lib/log.ts";
import { openDatabase } from "../../src/store/db.ts";
import { tempDbPath, tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();

setLogSink(() => {});

/** Reads the child's stdout line by line until it accepted enough, then kills it with SIGKILL. */
async function runAndKill(path: string, count: number, killAfterAccepted: number): Promise<{ accepted: Map<number, number>; sent: number[] }> {
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "../support/outbox-child.ts"), path, String(count)], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const accepted = new Map<number, number>();
  const sent: number[] = [];
  const decoder = new TextDecoder();
  let buffer = "";
  const deadline = setTimeout(() => child.kill(9), 20_000);
  const reader = child.stdout.getReader();
  // Read to the end even after the kill: "S" lines the child wrote just before dying are still
  // in the pipe, and a send they report may already have had its row deleted.
  let killAt = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    const lines = buffer.split("\n");
    buffer = lines.pop()!;
    for (const line of lines) {
      const [kind, seq, id] = line.split(" ");
      // What was accepted after the kill was decided is not part of the promise being checked.
      if (kind === "A" && !killAt) accepted.set(Number(seq), Number(id));
      if (kind === "S") sent.push(Number(seq));
    }
    if (!killAt && accepted.size >= killAfterAccepted) {
      killAt = Date.now();
      child.kill(9);
    }
  }
  clearTimeout(deadline);
  await child.exited;
  expect(child.signalCode).toBe("SIGKILL");
  return { accepted, sent };
}

test("kill -9 mid-delivery: every accepted message is delivered after restart", async () => {
  const path = tempDbPath(tmp, "crash");
  const { accepted, sent } = await runAndKill(path, 5000, 1500);
  expect(accepted.size).toBeGreaterThanOrEqual(1500);
  // It really died mid-way: some messages were posted before the kill, not all of them.
  expect(sent.length).toBeGreaterThan(0);
  expect(sent.length).toBeLessThan(accepted.size);

  const db = openDatabase(path);
  const backend = new MemoryBackend();
  const outbox = new Outbox({ db, backend, deadAfterMs: 60_000, maxRetryDelayMs: 100 });
  outbox.start();
  expect(await outbox.drain(20_000)).toBe(true);
  await outbox.stop();
  db.close();

  const after = backend.sent.map((s) => Number(s.text.slice(4)));
  const everSent = new Set([...sent, ...after]);
  const lost = [...accepted.keys()].filter((seq) => !everSent.has(seq));
  const before = new Set(sent);
  const duplicates = after.filter((seq) => before.has(seq)).length;
  console.log(`kill -9: accepted ${accepted.size}, sent before ${sent.length}, after ${after.length}, lost ${lost.length}, duplicates ${duplicates}`);
  expect(lost).toEqual([]);
  // Duplicates are the sends confirmed in the last turn before the kill: a handful, not a replay of everything.
  expect(duplicates).toBeLessThan(100);
  // Per target, the restarted run still goes in order.
  for (let room = 0; room < 4; room++) {
    const seqs = backend.sent.filter((s) => s.target.id === `room${room}`).map((s) => Number(s.text.slice(4)));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  }
}, 60_000);
