/** Held two-factor confirmations: run once on the right uuid, ignore the rest, expire on time. */
import { afterEach, describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import { CommandError } from "../../src/lib/errors.ts";
import { needsTwoFactor, TwoFactor, TWOFACTOR_EVENT, type PendingConfirmation } from "../../src/bot/twofactor.ts";

const MIN = 60_000;
const stores: TwoFactor[] = [];
afterEach(() => stores.splice(0).forEach((s) => s.stop()));

/** A store on a clock the test moves by hand. */
function store(opts: { enabled?: boolean; ttlMs?: number } = {}) {
  const clock = { now: 1_000_000 };
  const s = new TwoFactor({ ...opts, now: () => clock.now });
  stores.push(s);
  return { s, clock };
}

/** A held execution that records whether it ran and what it told the asker. */
function pending(run: () => Promise<void> = async () => {}) {
  const log = { runs: 0, replies: [] as string[] };
  const p: PendingConfirmation = {
    alias: "ops.deploy",
    user: "alice",
    run: async () => {
      log.runs++;
      await run();
    },
    reply: async (text) => void log.replies.push(text),
  };
  return { p, log };
}

const confirmation = (uuid: unknown) => ({ name: TWOFACTOR_EVENT, data: { payload: { uuid } } });

describe("needsTwoFactor", () => {
  const on = parseConfig('[stackstorm]\ntwofactor_action = "duo.auth_push"\n', "c");
  const off = parseConfig("", "c");

  test("only with a configured action and the alias flag set (hubot's rule)", () => {
    expect(needsTwoFactor(on, { extra: { security: { twofactor: true } } })).toBe(true);
    expect(needsTwoFactor(on, { extra: { security: { twofactor: "duo" } } })).toBe(true);
    expect(needsTwoFactor(on, { extra: { security: {} } })).toBe(false);
    expect(needsTwoFactor(on, { extra: { slack: {} } })).toBe(false);
    expect(needsTwoFactor(on, { extra: null })).toBe(false);
    expect(needsTwoFactor(on, {})).toBe(false);
    expect(needsTwoFactor(off, { extra: { security: { twofactor: true } } })).toBe(false);
  });

  test("`twofactor: false` means off (hubot would still ask)", () => {
    expect(needsTwoFactor(on, { extra: { security: { twofactor: false } } })).toBe(false);
    expect(needsTwoFactor(on, { extra: { security: { twofactor: null } } })).toBe(false);
  });
});

describe("TwoFactor", () => {
  test("a confirmation with the held uuid runs the execution once", async () => {
    const { s } = store();
    const { p, log } = pending();
    const uuid = s.hold(p);
    expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(await s.confirm(uuid)).toBe(true);
    expect(log.runs).toBe(1);
    expect(await s.confirm(uuid)).toBe(false);
    expect(log.runs).toBe(1);
    expect(s.size).toBe(0);
  });

  test("stream events: the confirmation is taken and runs; other events are left alone", async () => {
    const { s } = store();
    const { p, log } = pending();
    const uuid = s.hold(p);
    expect(s.onEvent({ name: "st2.announcement__errbot", data: { payload: { uuid } } })).toBe(false);
    expect(log.runs).toBe(0);
    expect(s.onEvent(confirmation(uuid))).toBe(true);
    await Bun.sleep(0);
    expect(log.runs).toBe(1);
  });

  test("an unknown uuid or a malformed confirmation is ignored and holds nothing up", async () => {
    const { s } = store();
    const { p, log } = pending();
    const uuid = s.hold(p);
    expect(s.onEvent(confirmation("not-a-held-uuid"))).toBe(true);
    expect(s.onEvent(confirmation(42))).toBe(true);
    expect(s.onEvent({ name: TWOFACTOR_EVENT, data: "garbage" })).toBe(true);
    await Bun.sleep(0);
    expect(log.runs).toBe(0);
    expect(s.size).toBe(1);
    expect(await s.confirm(uuid)).toBe(true);
  });

  test("a store without a configured 2FA action takes no events", () => {
    const { s } = store({ enabled: false });
    expect(s.events).toEqual([]);
    expect(s.onEvent(confirmation("x"))).toBe(false);
    expect(store().s.events).toEqual([TWOFACTOR_EVENT]);
  });

  test("TwoFactor.fromConfig is enabled exactly when twofactor_action is set", () => {
    const on = TwoFactor.fromConfig(parseConfig('[stackstorm]\ntwofactor_action = "duo.auth_push"\n', "c"));
    const off = TwoFactor.fromConfig(parseConfig("", "c"));
    expect([on.events, off.events]).toEqual([[TWOFACTOR_EVENT], []]);
  });

  test("a failed run is told to the asker: StackStorm's refusal as written, anything else with an error id", async () => {
    const { s } = store();
    const refused = pending(async () => {
      throw new CommandError("StackStorm rejected the command: nope");
    });
    await s.confirm(s.hold(refused.p));
    expect(refused.log.replies).toEqual(["StackStorm rejected the command: nope"]);
    const broken = pending(async () => {
      throw new Error("database is locked at /secret/path");
    });
    await s.confirm(s.hold(broken.p));
    expect(broken.log.replies[0]).toMatch(/^Sorry, something went wrong running that command \(error id [0-9a-f]{8}\)\.$/);
  });

  test("release forgets a held execution without running it", async () => {
    const { s } = store();
    const { p, log } = pending();
    const uuid = s.hold(p);
    s.release(uuid);
    expect(await s.confirm(uuid)).toBe(false);
    expect(log.runs).toBe(0);
  });
});

describe("expiry (injected clock)", () => {
  test("after 10 minutes a held execution is dropped and the asker is told", async () => {
    const { s, clock } = store();
    const { p, log } = pending();
    const uuid = s.hold(p);
    clock.now += 10 * MIN - 1;
    expect(s.sweep()).toBe(0);
    clock.now += 1;
    expect(s.sweep()).toBe(1);
    await Bun.sleep(0);
    expect(log.replies).toEqual(["No two-factor confirmation arrived within 10 minutes, so I did not run ops.deploy. Please ask again."]);
    expect(await s.confirm(uuid)).toBe(false);
    expect(log.runs).toBe(0);
  });

  test("a late confirmation is refused even before the timer swept", async () => {
    const { s, clock } = store({ ttlMs: 30_000 });
    const { p, log } = pending();
    const uuid = s.hold(p);
    clock.now += 30_000;
    expect(await s.confirm(uuid)).toBe(false);
    expect(log.runs).toBe(0);
    expect(log.replies).toEqual(["No two-factor confirmation arrived within 30 seconds, so I did not run ops.deploy. Please ask again."]);
  });

  test("only the expired ones go; younger ones stay confirmable", async () => {
    const { s, clock } = store();
    const old = pending();
    const young = pending();
    s.hold(old.p);
    clock.now += 6 * MIN;
    const youngId = s.hold(young.p);
    clock.now += 5 * MIN;
    expect(s.sweep()).toBe(1);
    expect(s.size).toBe(1);
    expect(await s.confirm(youngId)).toBe(true);
    expect([old.log.runs, young.log.runs]).toEqual([0, 1]);
  });
});

describe("config", () => {
  test("HUBOT_2FA sets stackstorm.twofactor_action, over the file", () => {
    const c = parseConfig('[stackstorm]\ntwofactor_action = "file.action"\n', "c", { HUBOT_2FA: "duo.auth_push" });
    expect(c.stackstorm.twofactor_action).toBe("duo.auth_push");
    expect(parseConfig("", "c").stackstorm.twofactor_action).toBeUndefined();
  });

  test("a value that is not an action ref is refused with its line", () => {
    expect(() => parseConfig('[stackstorm]\ntwofactor_action = "duo"\n', "c.toml")).toThrow(
      "c.toml:2: stackstorm.twofactor_action: must be an action ref such as duo.auth_push",
    );
  });

  test("route_key 2fa would swallow the bot's own announcements, so it is refused with twofactor_action", () => {
    expect(() => parseConfig('[stackstorm]\nroute_key = "2fa"\ntwofactor_action = "duo.auth_push"\n', "c.toml")).toThrow(
      'c.toml:2: stackstorm.route_key "2fa" is the route two-factor confirmations arrive on; choose another route_key',
    );
  });
});
