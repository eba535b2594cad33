/**
 * A login link never sits in clear on disk (issue 10, item 5): after it was delivered, neither
 * the database nor its WAL nor its shared-memory file holds the link's id or URL; an undelivered
 * link survives a restart (sealed with a key derived from the secrets key) and still works.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { SentMessage } from "../../src/chat/memory.ts";
import { assertNoViolations } from "../support/emulator.ts";
import { clientsideOptions, startBot, type BotHarness } from "../support/bot.ts";

const KEY_ENV = "ST2BOT_TEST_AT_REST_KEY";
let h: BotHarness;

beforeAll(async () => {
  h = await startBot({ ...clientsideOptions(KEY_ENV), emulator: { users: { st2admin: "Ch@ngeMe", "alice.st2": "alice-pw" } } });
});
afterAll(async () => {
  assertNoViolations(h.emulator);
  await h.stop();
  delete process.env[KEY_ENV];
});

const linkTo = (user: string) => (m: SentMessage) => m.target.kind === "user" && m.target.id === user && m.text.includes("/login/");
const idIn = (text: string) => /https:\/\/st2bot\.example\.com\/login\/([0-9a-f-]{36}) /.exec(text)![1]!;
const files = () => ["st2bot.sqlite", "st2bot.sqlite-wal", "st2bot.sqlite-shm"].map((f) => join(h.dataDir, f)).filter((f) => existsSync(f));

/** Every occurrence of `needle` in the raw bytes of the database files, by file name. */
function onDisk(needle: string): string[] {
  return files().filter((f) => readFileSync(f).includes(Buffer.from(needle, "utf8")));
}

async function loginWith(id: string): Promise<number> {
  const res = await h.app.web!.app.handle(
    new Request(`http://localhost/login/authenticate/${id}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ shared_word: "open-sesame", kind: "password", username: "alice.st2", password: "alice-pw" }),
    }),
  );
  return res.status;
}

test("a delivered login link is nowhere in the database, its WAL or its shared memory", async () => {
  await h.say("!st2session_start open-sesame", { user: "alice" });
  const id = idIn((await h.next(linkTo("alice"), "login link")).text);
  await h.app.outbox.drain(5_000);
  expect(files().length).toBeGreaterThanOrEqual(2);
  expect(onDisk(id)).toEqual([]);
  expect(onDisk("st2bot.example.com/login/")).toEqual([]);
  // Nor the id's parts (the WAL keeps page images; a partial id would still help a guesser).
  expect(onDisk(id.slice(0, 18))).toEqual([]);
  expect(onDisk("open-sesame")).toEqual([]);
  for (const f of files()) expect(statSync(f).mode & 0o777).toBe(0o600);
  expect(statSync(h.dataDir).mode & 0o777).toBe(0o700);
}, 30_000);

test("a link not yet delivered survives a restart, sealed, and still logs the user in", async () => {
  h.backend.failFor(60_000);
  await h.say("!st2session_start open-sesame", { user: "bob" });
  // Stored (pending), not delivered: the sealed row is on disk, the link is not.
  await Bun.sleep(200);
  const pending = h.app.db.query("SELECT payload FROM outbox WHERE dead = 0").all() as { payload: string }[];
  const sealed = pending.find((r) => r.payload.includes('"sealed"'));
  expect(sealed).toBeDefined();
  expect(sealed!.payload).not.toContain("/login/");
  expect(sealed!.payload).toContain('"user":"bob"');
  await h.restart();
  h.backend.failFor(0);
  const id = idIn((await h.next(linkTo("bob"), "login link after restart", 20_000)).text);
  expect(onDisk(id)).toEqual([]);
  // linked to bob: the link works once.
  expect(await loginWith(id)).toBe(200);
  expect(await loginWith(id)).toBe(404);
}, 60_000);
