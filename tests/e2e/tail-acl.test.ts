/**
 * Who may follow an execution: `!st2 tail` is the command `St2:tail` for the ACL, and under
 * st2bot's own identity the execution's alias must be one the caller may run (its `alias:` rules),
 * as for `!st2 execution`. Through the in-memory backend, which cannot edit: a sequence.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type BotHarness, startBot } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";

let h: BotHarness;

beforeAll(async () => {
  h = await startBot({
    emulator: {
      aliases: [{ name: "deploy", pack: "ops", action_ref: "ops.deploy", formats: ["deploy {{app}}"] }],
      actions: [{ ref: "ops.deploy", runner: "local-shell-cmd", output: { pieces: Array.from({ length: 20 }, (_, i) => `step ${i}\n`), intervalMs: 50 } }],
    },
    toml: `[access_controls."St2:tail"]\ndenyusers = ["@mallory"]\n[access_controls."alias:ops.deploy"]\nallowusers = ["@alice", "@carol"]`,
  });
});
afterAll(() => h.stop());

test("St2:tail is a command the ACL can deny; the alias's own rules decide whose runs may be followed", async () => {
  await h.say("!st2 deploy shop", { user: "alice", room: "ops" });
  const ex = await waitFor("the execution", () => h.emulator.executions[0]);
  await h.next((m) => m.text.includes(ex.id), "the ack");
  const id = ex.id.slice(-8);

  await h.say(`!st2 tail ${id}`, { user: "mallory", room: "ops" });
  expect((await h.next((m) => m.text.includes("not allowed"), "mallory's denial")).text).toContain("You're not allowed to access this command from this user");

  await h.say(`!st2 tail ${id}`, { user: "bob", room: "ops" });
  await h.next((m) => m.text.includes("not allowed"), "bob's denial (the alias is alice's and carol's)");

  await h.say(`!st2 tail ${id}`, { user: "carol", room: "ops" });
  await h.next((m) => m.text.startsWith("Following ops.deploy"), "carol follows");
  await h.next((m) => m.text.startsWith("ops.deploy ") && m.text.includes("step"), "a stretch of output");
  await h.next((m) => m.text.startsWith("✅ ops.deploy"), "the closing line", 15_000);
  // Nobody but carol got a follow going.
  expect(h.backend.sent.filter((m) => m.text.startsWith("Following ")).length).toBe(1);
}, 20_000);
