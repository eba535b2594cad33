/**
 * A StackStorm login belongs to the person's account, never to a nick (issue 10, item 7): an XMPP
 * room occupant `room@conf/nick` is keyed on their real JID, a link made in a private message
 * through the room is not inherited by the next holder of the nick, and where the room hides
 * real JIDs session_start refuses and says why. (The XMPP backend's side — `account` set from
 * the room's presence — is in tests/chat/xmpp.test.ts against a real prosody.)
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Identity } from "../../src/chat/types.ts";
import type { SentMessage } from "../../src/chat/memory.ts";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { ANONYMOUS } from "../../src/bot/commands/sessions.ts";
import { clientsideOptions, startBot, type BotHarness } from "../support/bot.ts";

const KEY_ENV = "ST2BOT_TEST_ACCOUNT_KEY";
const OCCUPANT = "ops@conference.example.com/alice";
let h: BotHarness;

beforeAll(async () => {
  h = await startBot({
    ...clientsideOptions(KEY_ENV),
    emulator: { aliases: sampleAliases, actions: sampleActions, users: { st2admin: "Ch@ngeMe", "alice.st2": "alice-pw" } },
  });
});
afterAll(async () => {
  await h.stop();
  delete process.env[KEY_ENV];
});

/** A room occupant with nick alice, behind `account` (null: the room hides it). */
const occupant = (account: string | null): Identity => ({ id: OCCUPANT, nick: "alice", aclId: account ?? OCCUPANT, st2User: OCCUPANT, account });
const privately = (from: Identity, text: string) => h.backend.receive({ text, from, direct: true });
// The memory backend answers a direct message at `@<nick>` and sends the link to the occupant JID.
const toOccupant = (m: SentMessage) => m.target.kind === "user" && (m.target.id === OCCUPANT || m.target.id === "alice");

test("in a room that hides real JIDs, session_start refuses and says why", async () => {
  await privately(occupant(null), "!st2session_start open-sesame");
  expect((await h.next(toOccupant, "refusal")).text).toBe(ANONYMOUS);
  expect((h.app.db.query("SELECT COUNT(*) AS n FROM sessions").get() as { n: number }).n).toBe(0);
  await privately(occupant(null), "!st2 packs list");
  expect((await h.next(toOccupant, "refusal to run")).text).toBe(ANONYMOUS);
});

test("a link made through the room belongs to the real JID: the next holder of the nick does not inherit it", async () => {
  await privately(occupant("alice@example.com"), "!st2session_start open-sesame");
  const id = /\/login\/([0-9a-f-]{36}) /.exec((await h.next((m) => toOccupant(m) && m.text.includes("/login/"), "login link")).text)![1]!;
  const res = await h.app.web!.app.handle(
    new Request(`http://localhost/login/authenticate/${id}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ shared_word: "open-sesame", kind: "password", username: "alice.st2", password: "alice-pw" }),
    }),
  );
  expect(res.status).toBe(200);
  expect(h.app.db.query("SELECT chat_user FROM secrets").all()).toEqual([{ chat_user: "memory:alice@example.com" }]);

  // Mallory takes the nick alice after alice left: same occupant JID, another account.
  const before = h.emulator.executions.length;
  await privately(occupant("mallory@example.com"), "!st2 packs list");
  expect((await h.next(toOccupant, "mallory refused")).text).toStartWith("You have not linked your StackStorm identity yet");
  expect(h.emulator.executions.length).toBe(before);

  // Alice herself, from a direct chat with her own account, acts as alice.st2.
  await h.backend.receive({ text: "!st2 packs list", from: { id: "alice@example.com", nick: "alice", aclId: "alice@example.com", st2User: "alice@example.com/desk" }, direct: true });
  await h.next((m) => m.text.startsWith("Looking up your packs"), "alice's ack");
  expect(h.emulator.executions.at(-1)!.user).toBe("alice.st2");
}, 30_000);
