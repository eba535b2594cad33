/** `!status` in cluster mode names the role, fence, lease age, peers and a Redis outage. */
import { expect, test } from "bun:test";
import { statusText } from "../../src/bot/commands/builtins.ts";
import type { StatusSource } from "../../src/bot/status.ts";

const base: StatusSource = {
  version: "t",
  startedAt: 0,
  chat: () => ({ state: "connected", since: 0 }),
  st2: () => ({ state: "ok" }),
  aliases: () => 1,
  stream: () => ({ state: "open" }),
  outbox: () => ({ pending: 0, dead: 0, delivered: 0, failedAttempts: 0 }),
};

test("no cluster: no cluster line", () => {
  expect(statusText({ prefix: "!", commands: () => [], status: base, now: () => 0 }, "text")).not.toContain("cluster");
});

test("leader and standby lines", () => {
  const leader = { ...base, cluster: () => ({ instance: "a", role: "leader" as const, fence: 7, leaseAgeMs: 120, peers: 2, redisDown: false, spooled: 0 }) };
  expect(statusText({ prefix: "!", commands: () => [], status: leader, now: () => 0 }, "text")).toContain("- cluster: a is leader, fence 7, lease confirmed 120 ms ago; 2 instance(s) seen");
  const down = { ...base, cluster: () => ({ instance: "b", role: "standby" as const, fence: 0, peers: 2, redisDown: true, spooled: 5 }) };
  expect(statusText({ prefix: "!", commands: () => [], status: down, now: () => 0 }, "text")).toContain("- cluster: b is standby; 2 instance(s) seen, Redis UNREACHABLE (5 announcements spooled)");
});
