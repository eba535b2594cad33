/**
 * `!st2session_list` and `!st2session_cancel` end to end through the bot: only admins may use
 * them, the list shows open login sessions and linked users (never a login link), and a cancel
 * removes the link so the user's next command is refused until they log in again.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import type { SentMessage } from "../../src/chat/memory.ts";
import { clientsideOptions, linkIdentity, startBot, type BotHarness } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";

const KEY_ENV = "ST2BOT_TEST_SESSIONS_ADMIN_KEY";
const dmTo = (user: string) => (m: SentMessage) => m.target.kind === "user" && m.target.id === user;
const NOT_LINKED = "You have not linked your StackStorm identity yet: send me `!st2session_start <shared word>` in a direct message and follow the link.";

/** What `user` gets back for `text` in a direct message. */
async function ask(h: BotHarness, user: string, text: string, what = text): Promise<string> {
  await h.say(text, { user });
  return (await h.next(dmTo(user), what)).text;
}

describe("session_list and session_cancel with client-side login", () => {
  let h: BotHarness;
  beforeAll(async () => {
    h = await startBot({
      ...clientsideOptions(KEY_ENV),
      emulator: { aliases: sampleAliases, actions: sampleActions, users: { st2admin: "Ch@ngeMe", "alice.st2": "alice-pw" } },
    });
    await waitFor("stream open", () => h.app.streamState().state === "open");
  });
  afterAll(async () => {
    await h.stop();
    delete process.env[KEY_ENV];
  });

  test("with nothing open, the admin's list says none twice", async () => {
    expect(await ask(h, "admin", "!st2session_list")).toBe("Open login sessions: none\nUsers with stored credentials: none");
  });

  test("the list shows a linked user and an open session by its short ref, never the login link", async () => {
    await linkIdentity(h, { chatUser: "alice", st2User: "alice.st2", password: "alice-pw" });
    const link = await ask(h, "bob", "!st2session_start open-sesame", "bob's login link");
    const id = /\/login\/([0-9a-f-]{36}) /.exec(link)?.[1];
    expect(id).toBeDefined();

    const list = await ask(h, "admin", "!st2session_list");
    expect(list).toMatch(/^Open login sessions: \n {2}memory:bob \(id [0-9a-f]{8}, expires \d{4}-\d\d-\d\dT[\d:.]+Z\)\nUsers with stored credentials: \n {2}memory:alice$/);
    expect(list).not.toContain(id!);
    expect(list).not.toContain("open-sesame");
  });

  test("a non-admin may neither list nor cancel, and the link stays", async () => {
    expect(await ask(h, "mallory", "!st2session_list")).toBe("This command requires bot-admin privileges");
    expect(await ask(h, "mallory", "!st2session_cancel alice")).toBe("This command requires bot-admin privileges");
    await h.say("!st2 packs list", { user: "alice" });
    await h.next((m) => dmTo("alice")(m) && m.text.startsWith("Looking up your packs"), "alice's ack");
    expect(h.emulator.executions.at(-1)!.user).toBe("alice.st2");
  });

  test("cancel by user deletes the stored credentials: the user's next command is refused and nothing runs", async () => {
    expect(await ask(h, "admin", "!st2session_cancel @alice")).toBe("Cancelled 0 session(s) and deleted the stored credentials of memory:alice.");
    const before = h.emulator.executions.length;
    expect(await ask(h, "alice", "!st2 packs list", "alice's refusal")).toBe(NOT_LINKED);
    expect(h.emulator.executions.length).toBe(before);
    expect(await ask(h, "admin", "!st2session_list")).not.toContain("memory:alice");
  });

  test("cancel by ref ends an open session: its login link no longer works", async () => {
    // A new link replaces bob's open one: the list names only the newest session.
    const link = await ask(h, "bob", "!st2session_start open-sesame", "bob's second link");
    const id = /\/login\/([0-9a-f-]{36}) /.exec(link)![1];
    const refs = [...(await ask(h, "admin", "!st2session_list")).matchAll(/memory:bob \(id ([0-9a-f]{8}),/g)].map((m) => m[1]);
    expect(refs).toHaveLength(1);

    expect(await ask(h, "admin", `!st2session_cancel ${refs[0]}`)).toBe("Cancelled 1 session(s).");
    expect(await ask(h, "admin", "!st2session_cancel bob")).toBe('No session or stored credentials found for "bob".');
    expect(await ask(h, "admin", "!st2session_list")).toBe("Open login sessions: none\nUsers with stored credentials: none");
    const res = await h.app.web!.app.handle(
      new Request(`http://localhost/login/authenticate/${id}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ shared_word: "open-sesame", kind: "password", username: "alice.st2", password: "alice-pw" }),
      }),
    );
    expect(res.status).toBe(404);
    expect(await ask(h, "bob", "!st2 packs list", "bob's refusal")).toBe(NOT_LINKED);
  });

  test("cancel without an argument gives its usage; an unknown user or ref says nothing was found", async () => {
    expect(await ask(h, "admin", "!st2session_cancel")).toBe("Usage: !st2session_cancel <user or id>");
    expect(await ask(h, "admin", "!st2session_cancel nobody")).toBe('No session or stored credentials found for "nobody".');
  });
});

describe("session_list and session_cancel without client-side login", () => {
  let h: BotHarness;
  beforeAll(async () => {
    h = await startBot({ emulator: { aliases: sampleAliases, actions: sampleActions } });
    await waitFor("stream open", () => h.app.streamState().state === "open");
  });
  afterAll(() => h.stop());

  test("an admin is told login is not enabled; a user's next command still runs with the bot's credentials", async () => {
    const off = "Client-side login is not enabled here: every command runs with the bot's StackStorm credentials.";
    expect(await ask(h, "admin", "!st2session_list")).toBe(off);
    expect(await ask(h, "admin", "!st2session_cancel alice")).toBe(off);
    const before = h.emulator.executions.length;
    await h.say("!st2 packs list", { user: "alice" });
    await h.next((m) => dmTo("alice")(m) && m.text.startsWith("Looking up your packs"), "alice's ack");
    expect(h.emulator.executions.length).toBe(before + 1);
    expect(h.emulator.executions.at(-1)!.user).not.toBe("alice");
  });
});
