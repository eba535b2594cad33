/**
 * Held two-factor confirmations with a shared store (cluster mode's contract, here on a map
 * standing in for Redis; the Redis store itself: tests/e2e/cluster-twofactor.test.ts): one
 * instance holds, any instance takes it once, a store that cannot be reached loses nothing.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Message } from "../../src/chat/types.ts";
import { TwoFactor, type ConfirmationStore, type HeldRecord } from "../../src/bot/twofactor.ts";

const instances: TwoFactor[] = [];
afterEach(() => instances.splice(0).forEach((s) => s.stop()));

/** The shared store: a map with TTLs on the test's clock, and a switch that makes it unreachable. */
function shared(clock: { now: number }) {
  const records = new Map<string, { record: HeldRecord; until: number }>();
  const state = { down: false };
  const check = () => {
    if (state.down) throw new Error("Redis is unreachable");
  };
  const store: ConfirmationStore = {
    put: async (uuid, record, ttlMs) => {
      check();
      records.set(uuid, { record: JSON.parse(JSON.stringify(record)), until: clock.now + ttlMs });
    },
    take: async (uuid) => {
      check();
      const r = records.get(uuid);
      records.delete(uuid);
      return r && r.until > clock.now ? r.record : undefined;
    },
    drop: async (uuid) => void records.delete(uuid),
  };
  return { store, records, state };
}

const message: Message = { text: "!st2 deploy web to production", from: { id: "alice", nick: "alice", aclId: "@alice", st2User: "alice" }, direct: false, room: { id: "ops", name: "#ops" }, raw: { secret: "event" } };

function instance(store: ConfirmationStore, clock: { now: number }) {
  const s = new TwoFactor({ store, now: () => clock.now, ttlMs: 60_000 });
  instances.push(s);
  const resumed: Message[] = [];
  s.resumeWith(async (m) => void resumed.push(m));
  return { s, resumed };
}

function pending() {
  const log = { runs: 0, replies: [] as string[] };
  return { log, p: { alias: "ops.deploy", user: "alice", message, run: async () => void log.runs++, reply: async (t: string) => void log.replies.push(t) } };
}

describe("TwoFactor with a shared store", () => {
  test("held on one instance, taken on another: its message goes through the router again, marked confirmed, once", async () => {
    const clock = { now: 1_000_000 };
    const { store, records } = shared(clock);
    const a = instance(store, clock);
    const b = instance(store, clock);
    const { p, log } = pending();
    const uuid = a.s.hold(p);
    await a.s.persisted(uuid);
    // What is shared: enough to run it again, not the backend's raw event.
    expect(records.get(uuid)!.record).toEqual({ alias: "ops.deploy", user: "alice", message: { ...message, raw: undefined } as Message, expiresAt: 1_060_000 });
    // Kept in the store past its time (a sweep and a minute), so its holder can still tell the asker.
    expect(records.get(uuid)!.until).toBe(1_000_000 + 60_000 + 60_000 + 60_000);
    expect("raw" in records.get(uuid)!.record.message).toBe(false);
    expect(await b.s.confirm(uuid)).toBe(true);
    expect(b.resumed).toHaveLength(1);
    expect(b.resumed[0]!.text).toBe(message.text);
    expect(b.s.isConfirmed(b.resumed[0]!)).toBe(true);
    expect(b.s.isConfirmed(message)).toBe(false);
    // Taken: the holder's own confirmation, or a second one anywhere, runs nothing.
    expect(await a.s.confirm(uuid)).toBe(false);
    expect(await b.s.confirm(uuid)).toBe(false);
    expect(log.runs).toBe(0);
    expect(b.resumed).toHaveLength(1);
  });

  test("taken by its holder: the held closure runs (not the router)", async () => {
    const clock = { now: 1_000_000 };
    const { store } = shared(clock);
    const a = instance(store, clock);
    const { p, log } = pending();
    const uuid = a.s.hold(p);
    await a.s.persisted(uuid);
    expect(await a.s.confirm(uuid)).toBe(true);
    expect(log.runs).toBe(1);
    expect(a.resumed).toHaveLength(0);
  });

  test("an unreachable store: holding fails before the 2FA action starts; a confirmation rejects and stays takeable", async () => {
    const clock = { now: 1_000_000 };
    const { store, state } = shared(clock);
    const a = instance(store, clock);
    state.down = true;
    const refused = a.s.hold(pending().p);
    await expect(a.s.persisted(refused)).rejects.toThrow("unreachable");
    state.down = false;
    const { p, log } = pending();
    const uuid = a.s.hold(p);
    await a.s.persisted(uuid);
    state.down = true;
    await expect(a.s.claim(uuid)).rejects.toThrow("unreachable");
    state.down = false;
    // Read again later (the shared outbox keeps the entry unacknowledged): it runs then.
    expect(await a.s.confirm(uuid)).toBe(true);
    expect(log.runs).toBe(1);
  });

  test("expiry tells the asker unless another instance took it in time; a late confirmation runs nothing", async () => {
    const clock = { now: 1_000_000 };
    const { store } = shared(clock);
    const a = instance(store, clock);
    const b = instance(store, clock);
    const [first, second, third] = [pending(), pending(), pending()];
    const [u1, u2, u3] = [a.s.hold(first.p), a.s.hold(second.p), a.s.hold(third.p)];
    await Promise.all([a.s.persisted(u1), a.s.persisted(u2), a.s.persisted(u3)]);
    clock.now += 59_000;
    expect(await b.s.confirm(u1)).toBe(true);
    clock.now += 2_000;
    // Past its time, still in the store (kept longer on purpose): another instance must not run it.
    expect(await b.s.confirm(u3)).toBe(false);
    expect(b.resumed).toHaveLength(1);
    expect(a.s.sweep()).toBe(3);
    await Bun.sleep(10);
    expect(first.log.replies).toEqual([]);
    expect(second.log.replies).toEqual(["No two-factor confirmation arrived within 1 minute, so I did not run ops.deploy. Please ask again."]);
    // The late one reached b, which cannot tell the asker: it put the record back for its holder.
    expect(third.log.replies).toHaveLength(1);
  });
});
