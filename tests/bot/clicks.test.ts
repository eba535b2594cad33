/**
 * The parts of answering with a click, one by one: the controls an inquiry's schema gets
 * (buttons.ts), the token table (store/actions.ts: hashed, expiring, spent once answered), the
 * outbox's token issue (delivery/actions.ts) and the click layer in front of the router
 * (bot/clicks.ts). The whole path through real backends is in tests/e2e/clicks-*.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import type { ActionClick, ActionRequest, Message } from "../../src/chat/types.ts";
import { answerActions, answeredNote, MAX_TOKEN_LIFE_MS } from "../../src/bot/inquiries/buttons.ts";
import { alreadyAnswered, EXPIRED_CLICK, withClicks } from "../../src/bot/clicks.ts";
import { issueActions } from "../../src/delivery/actions.ts";
import { ActionTokens } from "../../src/store/actions.ts";
import { openDatabase } from "../../src/store/db.ts";
import type { Inquiry } from "../../src/st2/schemas.ts";
import { MemoryBackend } from "../../src/chat/memory.ts";
import { Outbox } from "../../src/delivery/outbox.ts";
import { SendError } from "../../src/lib/errors.ts";
import {  } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";

const config = parseConfig(`[bot]\nlog_level = "error"`, "<test>", {});
const ID = "5f2c0a1b2c3d4e5f60718293";
const NOW = 1_800_000_000_000;
const inquiry = (schema: Record<string, unknown>, ttl?: number): Inquiry => ({ id: ID, schema, users: [], roles: [], route: "", ...(ttl !== undefined ? { ttl } : {}) }) as Inquiry;
const prop = (p: Record<string, unknown>) => ({ type: "object", properties: p });

describe("answerActions: what one click can answer", () => {
  test("a yes/no property: Approve and Reject, each the full st2respond command with a typed JSON value", () => {
    const [a] = answerActions(config, inquiry(prop({ approved: { type: "boolean", required: true } }), 60), NOW)!;
    expect(a).toEqual({
      kind: "buttons",
      group: `inquiry:${ID}`,
      expiresAt: NOW + 3_600_000,
      choices: [
        { label: "Approve", style: "primary", command: `st2respond ${ID} {"approved":true}` },
        { label: "Reject", style: "danger", command: `st2respond ${ID} {"approved":false}` },
      ],
    });
  });

  test("listed values: a select, one choice per value, values kept with their JSON types", () => {
    const [a] = answerActions(config, inquiry(prop({ size: { type: "integer", enum: [1, 3], required: true }, note: { type: "string" } })), NOW)!;
    expect(a!.kind).toBe("select");
    expect(a!.choices.map((c) => [c.label, c.command])).toEqual([["1", `st2respond ${ID} {"size":1}`], ["3", `st2respond ${ID} {"size":3}`]]);
    expect(a!.expiresAt).toBe(NOW + MAX_TOKEN_LIFE_MS); // no ttl: the longest life
  });

  test("nothing a click can answer: free text, two required properties, an untyped property, too many values", () => {
    expect(answerActions(config, inquiry(prop({ why: { type: "string", required: true } })), NOW)).toBeUndefined();
    expect(answerActions(config, inquiry(prop({ a: { type: "boolean", required: true }, b: { type: "boolean", required: true } })), NOW)).toBeUndefined();
    expect(answerActions(config, inquiry(prop({ a: {} })), NOW)).toBeUndefined();
    expect(answerActions(config, inquiry(prop({ a: { enum: Array.from({ length: 101 }, (_, i) => i) } })), NOW)).toBeUndefined();
  });

  test("the command follows plugin_prefix like the typed one; the note says who, what and when in UTC", () => {
    const ops = parseConfig(`[bot]\nlog_level = "error"\n[stackstorm]\nplugin_prefix = "ops"`, "<test>", {});
    expect(answerActions(ops, inquiry(prop({ ok: { type: "boolean" } })), NOW)![0]!.choices[0]!.command).toStartWith(`opsrespond ${ID} `);
    expect(answeredNote("alice", "ok=yes", new Date(Date.UTC(2026, 11, 5, 16, 40, 59)))).toBe("Answered by alice: ok=yes (2026-12-05 16:40 UTC).");
  });
});

describe("ActionTokens: hashed, expiring, spent once the group is answered", () => {
  const setup = () => {
    const db = openDatabase(":memory:");
    let now = NOW;
    return { db, tokens: new ActionTokens(db, () => now), advance: (ms: number) => (now += ms) };
  };

  test("a token is 256 random bits; the table keeps its SHA-256 only, never the token", () => {
    const { db, tokens } = setup();
    const t = tokens.issue("g", "st2respond x {}", NOW + 1000);
    expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const rows = db.query("SELECT * FROM action_tokens").all() as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(t);
    expect(rows[0]!.token_hash).toBe(new Bun.CryptoHasher("sha256").update(t).digest("hex"));
    expect(tokens.lookup(t)).toEqual({ group: "g", command: "st2respond x {}" });
    expect(tokens.lookup(t.slice(1))).toBeUndefined();
    expect(tokens.lookup("x".repeat(10_000))).toBeUndefined();
  });

  test("expired tokens name nothing", () => {
    const { tokens, advance } = setup();
    const t = tokens.issue("g", "c", NOW + 1000);
    advance(1000);
    expect(tokens.lookup(t)).toBeUndefined();
  });

  test("answering spends every token of the group (the first note stays); other groups are untouched", () => {
    const { tokens } = setup();
    const [yes, no, other] = [tokens.issue("g", "c1", NOW + 1000), tokens.issue("g", "c2", NOW + 1000), tokens.issue("h", "c3", NOW + 1000)];
    tokens.answered("g", "Answered by alice: ok=yes.");
    tokens.answered("g", "Answered by bob: ok=no.");
    expect(tokens.lookup(yes)).toEqual({ group: "g", command: "c1", answered: "Answered by alice: ok=yes." });
    expect(tokens.lookup(no)!.answered).toBe("Answered by alice: ok=yes.");
    expect(tokens.lookup(other)!.answered).toBeUndefined();
  });
});

test("issueActions: a fresh token per choice at every call (each send attempt), commands never in the result", () => {
  const issued: string[] = [];
  const issuer = { issue: (_g: string, command: string) => (issued.push(command), `tok${issued.length}`) };
  const req = [{ kind: "select" as const, placeholder: "Pick", group: "g", expiresAt: NOW, choices: [{ label: "a", command: "c1" }, { label: "b", command: "c2" }] }];
  expect(issueActions(issuer, req)).toEqual([{ kind: "select", placeholder: "Pick", choices: [{ label: "a", token: "tok1" }, { label: "b", token: "tok2" }] }]);
  expect(issueActions(issuer, req)[0]!.choices.map((c) => c.token)).toEqual(["tok3", "tok4"]);
});

describe("withClicks: a click becomes the command its token stands for, as the clicker", () => {
  const alice = { id: "U1", nick: "alice", aclId: "U1", st2User: "#ops" };
  const setup = () => {
    const db = openDatabase(":memory:");
    const tokens = new ActionTokens(db);
    const routed: Message[] = [];
    const replies: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const handler = withClicks(
      async (m) => {
        routed.push(m);
        await gate;
        await m.action?.update("Answered by alice: ok=yes.");
      },
      { tokens, reply: async (_m, text) => void replies.push(text) },
    );
    return { tokens, routed, replies, handler, release };
  };
  const click = (token: string, told: string[] = [], updates: string[] = []): Message => {
    const action: ActionClick = { token, update: async (n) => void updates.push(n), notify: async (t) => void told.push(t) };
    return { text: "", from: alice, direct: false, room: { id: "C1", name: "#ops" }, action };
  };

  test("typed messages pass through untouched", async () => {
    const { handler, routed, release } = setup();
    release();
    const typed: Message = { text: "!st2 deploy", from: alice, direct: true };
    await handler(typed);
    expect(routed).toEqual([typed]);
  });

  test("a valid click reaches the router as the command, addressed, from the same person; its update records the answer", async () => {
    const { tokens, handler, routed, release } = setup();
    release();
    const t = tokens.issue("g", `st2respond ${ID} {"ok":true}`, Date.now() + 60_000);
    const updates: string[] = [];
    await handler(click(t, [], updates));
    expect(routed).toHaveLength(1);
    expect(routed[0]).toMatchObject({ text: `st2respond ${ID} {"ok":true}`, mentioned: true, from: alice, room: { id: "C1" } });
    expect(updates).toEqual(["Answered by alice: ok=yes."]);
    expect(tokens.lookup(t)!.answered).toBe("Answered by alice: ok=yes.");
  });

  test("clicks of one group run one at a time: the second waits, then is told the answer instead of answering again", async () => {
    const { tokens, handler, routed, release } = setup();
    const [yes, no] = [tokens.issue("g", "c-yes", Date.now() + 60_000), tokens.issue("g", "c-no", Date.now() + 60_000)];
    const told: string[] = [];
    const first = handler(click(yes));
    const second = handler(click(no, told));
    await Bun.sleep(5);
    expect(routed.map((m) => m.text)).toEqual(["c-yes"]);
    release();
    await Promise.all([first, second]);
    expect(routed.map((m) => m.text)).toEqual(["c-yes"]);
    expect(told).toEqual([alreadyAnswered("Answered by alice: ok=yes.")]);
  });

  test("an unknown token is told so and runs nothing; without notify the answer goes to the conversation", async () => {
    const { handler, routed, replies, release } = setup();
    release();
    const told: string[] = [];
    await handler(click("forged", told));
    const bare = click("forged");
    delete bare.action!.notify;
    await handler(bare);
    expect(routed).toEqual([]);
    expect(told).toEqual([EXPIRED_CLICK]);
    expect(replies).toEqual([EXPIRED_CLICK]);
  });
});

describe("the outbox sends controls under the last part, with tokens issued at send time", () => {
  const request = [{ kind: "buttons" as const, group: "g", expiresAt: NOW, choices: [{ label: "Approve", command: "c" }] }];
  const run = async (issue: boolean, failFirst: boolean) => {
    const backend = new MemoryBackend({ name: "memory", maxMessageLength: 40 });
    const seen: (string[] | undefined)[] = [];
    let fail = failFirst;
    const send = backend.send.bind(backend);
    backend.send = async (target, msg) => {
      seen.push(msg.actions?.flatMap((a) => a.choices.map((c) => c.token)));
      if (fail && msg.actions) {
        fail = false;
        throw new SendError("lost", true);
      }
      return send(target, msg);
    };
    let n = 0;
    const outbox = new Outbox({
      db: openDatabase(":memory:"), backend, deadAfterMs: 60_000, maxRetryDelayMs: 50, initialRetryDelayMs: 5, random: () => 1, stopGraceMs: 50,
      ...(issue ? { issueActions: (r: ActionRequest[]) => issueActions({ issue: () => `tok${++n}` }, r) } : {}),
    });
    outbox.start();
    outbox.enqueue({ message: "word ".repeat(20).trim(), channel: "#ops", actions: request }, "stream");
    await waitFor("delivery", () => outbox.stats().delivered === 1);
    await outbox.stop();
    return seen;
  };

  test("only the last part carries them; a retried send gets fresh tokens", async () => {
    const seen = await run(true, true);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.slice(0, -2).every((s) => s === undefined)).toBe(true);
    expect(seen.slice(-2)).toEqual([["tok1"], ["tok2"]]);
  });

  test("without a token issuer (no interactivity wired) the text goes alone", async () => {
    expect((await run(false, false)).every((s) => s === undefined)).toBe(true);
  });
});
