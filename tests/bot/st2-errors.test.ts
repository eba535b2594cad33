/**
 * What a chat user is told when StackStorm fails, and what an admin sees of undeliverable
 * messages: plain words, StackStorm's own reason, never a secret, never a bug blamed on StackStorm.
 */
import { expect, test } from "bun:test";
import { MemoryBackend } from "../../src/chat/memory.ts";
import type { Message } from "../../src/chat/types.ts";
import { callStackStorm } from "../../src/bot/commands/st2.ts";
import { outboxCommands, type OutboxControl } from "../../src/bot/commands/outbox.ts";
import type { Context } from "../../src/bot/types.ts";
import { parseConfig } from "../../src/config/load.ts";
import { CommandError } from "../../src/lib/errors.ts";
import { registerSecret } from "../../src/lib/log.ts";
import { St2ApiError } from "../../src/st2/http.ts";
import type { St2Client } from "../../src/st2/client.ts";
import { chatInfo } from "../../src/bot/router.ts";

function context(replies: string[], args = ""): Context {
  const msg: Message = { text: "!x", from: { id: "U1", nick: "alice", aclId: "@alice", st2User: "alice" }, direct: true };
  return {
    msg,
    chat: chatInfo(new MemoryBackend(), msg),
    command: { name: "x", args, typed: `x ${args}` },
    isAdmin: true,
    reply: async (text) => void replies.push(text),
    replySecret: async () => {},
  };
}

/** What the user reads when `err` is thrown by the StackStorm call (or the error itself, when it is not for users). */
async function told(err: unknown, personal = false): Promise<string | unknown> {
  const as = { client: {} as St2Client, personal };
  try {
    await callStackStorm(context([]), as, { expired: async () => "Your login expired; log in again." }, () => Promise.reject(err));
  } catch (thrown) {
    return thrown instanceof CommandError ? thrown.userMessage : thrown;
  }
  throw new Error("callStackStorm did not throw");
}

test("StackStorm's failures in plain words, with its own reason", async () => {
  expect(await told(new St2ApiError(0, "connection refused", "POST", "/api/v1/aliasexecution"))).toStartWith("StackStorm is unreachable right now");
  expect(await told(new St2ApiError(500, "boom", "POST", "/api/v1/aliasexecution"))).toMatch(/^StackStorm failed to run that \(error 500\); an administrator can find the details in st2bot's log under error id [0-9a-f]{8}\.$/);
  expect(await told(new St2ApiError(403, "no RBAC", "POST", "/x"))).toBe("StackStorm refused: you are not allowed to do that: no RBAC");
  expect(await told(new St2ApiError(401, "Unauthorized", "POST", "/x"), true)).toBe("Your login expired; log in again.");
});

test("a failure that is not StackStorm's is passed on for the router's error id, not called 'unreachable'", async () => {
  const bug = new TypeError("cannot read properties of undefined");
  expect(await told(bug)).toBe(bug);
});

test("the outbox listing never shows a registered secret from a send error", async () => {
  registerSecret("xoxb-outbox-secret-98765");
  const outbox: OutboxControl = {
    stats: () => ({ pending: 0, dead: 1, delivered: 0, failedAttempts: 3 }),
    listDead: () => [
      { id: 7, targetKey: "room:C1", createdAt: 0, attempts: 3, lastError: "POST https://x/?token=xoxb-outbox-secret-98765 failed", announcement: { message: "hello" } },
    ],
    replay: () => 0,
  };
  const config = parseConfig("", "<t>", {});
  const list = outboxCommands(config, outbox).find((c) => c.name === "st2outbox")!;
  const replies: string[] = [];
  await list.run(context(replies));
  expect(replies.join("\n")).toContain("#7 to room:C1");
  expect(replies.join("\n")).not.toContain("xoxb-outbox-secret-98765");
});
