/**
 * `!st2session_start` is bounded (issue 10, item 7): each chat user gets at most three links per
 * ten minutes, with a reply that says when to ask again, and argon2id hashes run one at a time
 * so a burst from many users queues instead of multiplying memory.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { SentMessage } from "../../src/chat/memory.ts";
import { Sessions } from "../../src/auth/sessions.ts";
import { openDatabase } from "../../src/store/db.ts";
import { clientsideOptions, startBot, type BotHarness } from "../support/bot.ts";

const KEY_ENV = "ST2BOT_TEST_SESSION_LIMIT_KEY";
let h: BotHarness;

beforeAll(async () => {
  h = await startBot(clientsideOptions(KEY_ENV));
});
afterAll(async () => {
  await h.stop();
  delete process.env[KEY_ENV];
});

const toUser = (user: string) => (m: SentMessage) => m.target.kind === "user" && m.target.id === user;

test("a burst of session_start from one user gets three links, then a clear refusal; others are not affected", async () => {
  for (let i = 0; i < 6; i++) await h.say(`!st2session_start word-${i}`, { user: "mallory" });
  await h.say("!st2session_start other-word", { user: "bob" });
  const replies: string[] = [];
  for (let i = 0; i < 6; i++) replies.push((await h.next(toUser("mallory"), `reply ${i}`)).text);
  expect(replies.filter((t) => t.includes("/login/"))).toHaveLength(3);
  const refusals = replies.filter((t) => !t.includes("/login/"));
  expect(refusals).toHaveLength(3);
  for (const r of refusals) {
    expect(r).toBe(
      "You asked for 3 login links in the last 10 minutes, the most I hand out; please ask again in 10 minutes. The last link I sent you still works until it expires or is used.",
    );
  }
  expect((await h.next(toUser("bob"), "bob's link")).text).toContain("/login/");
  // Only three sessions were hashed and stored for mallory's six requests (one open at a time).
  const rows = h.app.db.query("SELECT COUNT(*) AS n FROM sessions WHERE chat_user = 'memory:mallory'").get() as { n: number };
  expect(rows.n).toBe(1);
}, 30_000);

test("hashes of many users' requests run one at a time", async () => {
  const original = Bun.password.hash;
  let running = 0;
  let most = 0;
  Bun.password.hash = (async (...args: Parameters<typeof original>) => {
    most = Math.max(most, ++running);
    try {
      return await original(...args);
    } finally {
      running--;
    }
  }) as typeof original;
  try {
    const sessions = new Sessions(openDatabase(":memory:"), 60_000);
    const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => sessions.start(`memory:user${i}`, "word")));
    expect(new Set(ids).size).toBe(6);
    expect(most).toBe(1);
  } finally {
    Bun.password.hash = original;
  }
}, 30_000);
