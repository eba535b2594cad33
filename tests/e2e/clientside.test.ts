/** Client-side auth: each chat user's commands run with their own StackStorm token, until it stops working. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { assertNoViolations } from "../support/emulator.ts";
import { clientsideOptions, linkIdentity, startBot, type BotHarness } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";

const KEY_ENV = "ST2BOT_TEST_CLIENTSIDE_KEY";
let h: BotHarness;
const dm = (m: { target: { kind: string; id: string } }) => m.target.kind === "user" && m.target.id === "alice";

beforeAll(async () => {
  h = await startBot({
    ...clientsideOptions(KEY_ENV),
    emulator: { aliases: sampleAliases, actions: sampleActions, users: { st2admin: "Ch@ngeMe", "alice.st2": "alice-pw" } },
  });
  await waitFor("stream open", () => h.app.streamState().state === "open");
});
afterAll(async () => {
  assertNoViolations(h.emulator);
  await h.stop();
  delete process.env[KEY_ENV];
});

const login = () => linkIdentity(h, { chatUser: "alice", st2User: "alice.st2", password: "alice-pw" });

test("without a login a command says how to start one, and nothing runs", async () => {
  const before = h.emulator.executions.length;
  await h.say("!st2 packs list", { user: "alice" });
  expect((await h.next(dm, "refusal")).text).toBe("You have not linked your StackStorm identity yet: send me `!st2session_start <shared word>` in a direct message and follow the link.");
  expect(h.emulator.executions.length).toBe(before);
});

test("session_start in a room refuses and says why", async () => {
  await h.say("!st2session_start open-sesame", { user: "alice", room: "ops" });
  expect((await h.next((m) => m.target.id === "ops", "room refusal")).text).toStartWith("For your safety st2session_start only works in a direct message");
});

test("after logging in, commands run as the user's own StackStorm identity", async () => {
  await login();
  await h.say("!st2 packs list", { user: "alice" });
  const exec = h.emulator.executions.at(-1)!;
  expect(exec.user).toBe("alice.st2");
  expect(exec.apiUser).toBe("alice");
  await h.next((m) => dm(m) && m.text.startsWith("Looking up your packs"), "ack");
});

test("when the user's token stops working, the next command says to log in again", async () => {
  h.emulator.faults.expireTokens();
  await h.say("!st2 packs list", { user: "alice" });
  expect((await h.next((m) => dm(m) && m.text.startsWith("StackStorm no longer"), "expired")).text).toBe(
    "StackStorm no longer accepts your login (it expired or was revoked), so I forgot it. To log in again, send me `!st2session_start <shared word>` in a direct message and follow the link.",
  );
  await h.say("!st2 packs list", { user: "alice" });
  expect((await h.next((m) => dm(m) && m.text.startsWith("You have not"), "forgotten")).text).toStartWith("You have not linked your StackStorm identity yet");
});

test("session_end forgets the credentials", async () => {
  await login();
  await h.say("!st2session_end", { user: "alice" });
  expect((await h.next((m) => dm(m) && m.text.startsWith("Your StackStorm session"), "ended")).text).toBe("Your StackStorm session has ended and your stored credentials were deleted.");
  await h.say("!st2 packs list", { user: "alice" });
  expect((await h.next((m) => dm(m) && m.text.startsWith("You have not"), "gone")).text).toStartWith("You have not linked your StackStorm identity yet");
});
