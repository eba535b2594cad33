import { afterEach, describe, expect, test } from "bun:test";
import { assertNoViolations, startTestEmulator } from "../support/emulator.ts";
import { AliasCache } from "../../src/st2/aliascache.ts";
import { St2Client } from "../../src/st2/client.ts";
import { ApiKeyProvider } from "../../src/st2/credentials.ts";
import { St2Stream } from "../../src/st2/stream.ts";
import { AliasIndex } from "../../src/st2/aliases/index.ts";
import type { ActionAlias } from "../../src/st2/aliases/types.ts";
import { St2ApiError, St2Http } from "../../src/st2/http.ts";
import { captureLogs } from "./helpers.ts";
import { waitFor } from "../support/wait.ts";

const alias = (n: number, extra: Record<string, unknown> = {}): ActionAlias =>
  ({
    id: `id${n}`,
    ref: `demo.alias_${n}`,
    uid: `action:demo:alias_${n}`,
    name: `alias_${n}`,
    pack: "demo",
    description: `alias ${n}`,
    enabled: true,
    action_ref: "core.local",
    formats: [`run ${n}`],
    ...extra,
  }) as unknown as ActionAlias;

const names = (list: readonly ActionAlias[]) => list.map((a) => (a as { name: string }).name);

let logs = captureLogs();
afterEach(() => {
  logs.restore();
  logs = captureLogs();
});

/** A cache whose loads the test controls, counting index builds. */
function controlled(initial: ActionAlias[] = [alias(1), alias(2)]) {
  let answer: ActionAlias[] | Error = initial;
  let loads = 0;
  let gate: Promise<void> | undefined;
  const built: ActionAlias[][] = [];
  const cache = new AliasCache({
    load: async () => {
      loads++;
      if (gate) await gate;
      if (answer instanceof Error) throw answer;
      return answer;
    },
    build: (aliases) => {
      built.push(aliases);
      return new AliasIndex(aliases);
    },
  });
  return {
    cache,
    built,
    loads: () => loads,
    answer: (a: ActionAlias[] | Error) => {
      answer = a;
    },
    hold: () => {
      let release!: () => void;
      gate = new Promise((r) => (release = r));
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

describe("AliasCache", () => {
  test("starts empty and not loaded; refresh loads the set and builds the index", async () => {
    const c = controlled();
    expect(c.cache.loaded).toBe(false);
    expect(c.cache.aliases).toEqual([]);
    expect(await c.cache.refresh()).toBe(true);
    expect(names(c.cache.aliases)).toEqual(["alias_1", "alias_2"]);
    expect(c.cache.index).toBeInstanceOf(AliasIndex);
    expect(c.built.at(-1)).toBe(c.cache.aliases as ActionAlias[]);
    expect(c.cache.loadedAt).toBeInstanceOf(Date);
    expect(c.cache.lastError).toBeUndefined();
  });

  test("a failed refresh keeps the last good set and says why", async () => {
    const c = controlled();
    await c.cache.refresh();
    const loadedAt = c.cache.loadedAt;
    const index = c.cache.index;
    c.answer(new St2ApiError(0, "StackStorm unreachable at st2:443 (ECONNREFUSED)", "GET", "/api/v1/actionalias"));
    expect(await c.cache.refresh()).toBe(false);
    expect(names(c.cache.aliases)).toEqual(["alias_1", "alias_2"]);
    expect(c.cache.index).toBe(index);
    expect(c.cache.loadedAt).toBe(loadedAt);
    expect(c.cache.lastError).toContain("StackStorm unreachable");
    expect(logs.text()).toContain("could not load the action aliases");
    expect(logs.text()).toContain("keeping the 2 aliases");

    c.answer([alias(3)]);
    expect(await c.cache.refresh()).toBe(true);
    expect(names(c.cache.aliases)).toEqual(["alias_3"]);
    expect(c.cache.lastError).toBeUndefined();
  });

  test("a failure before any load leaves it unloaded, never throws", async () => {
    const c = controlled();
    c.answer(new Error("boom"));
    expect(await c.cache.refresh()).toBe(false);
    expect(c.cache.loaded).toBe(false);
    expect(logs.text()).toContain("no aliases loaded yet");
  });

  test("concurrent refreshes share one load", async () => {
    const c = controlled();
    const release = c.hold();
    const all = Promise.all([c.cache.refresh(), c.cache.refresh(), c.cache.refresh()]);
    release();
    expect(await all).toEqual([true, true, true]);
    expect(c.loads()).toBe(1);
    await c.cache.refresh();
    expect(c.loads()).toBe(2);
  });

  test("create, update and delete events change the set and the index at once", async () => {
    const c = controlled();
    await c.cache.refresh();
    const before = c.built.length;

    expect(c.cache.applyEvent("st2.actionalias__create", alias(3))).toBe(true);
    expect(names(c.cache.aliases)).toEqual(["alias_1", "alias_2", "alias_3"]);

    expect(c.cache.applyEvent("st2.actionalias__update", alias(1, { enabled: false, description: "changed" }))).toBe(true);
    expect((c.cache.aliases[0] as unknown as { description: string }).description).toBe("changed");
    expect(c.cache.aliases).toHaveLength(3);

    expect(c.cache.applyEvent("st2.actionalias__delete", alias(2))).toBe(true);
    expect(names(c.cache.aliases)).toEqual(["alias_1", "alias_3"]);
    expect(c.built.length).toBe(before + 3);
    expect(c.built.at(-1)).toEqual([...c.cache.aliases]);
  });

  test("keeps of each alias only the fields st2bot reads, equal acks and extras shared", async () => {
    const ack = () => ({ enabled: true, format: "on it", append_url: false });
    const extra = () => ({ security: { twofactor: true } });
    const full = (n: number) => alias(n, { ack: ack(), result: { format: "{{ execution.result }}" }, extra: extra(), immutable_parameters: { x: 1 }, metadata_file: "aliases/a.yaml" });
    const c = controlled([full(1), full(2)]);
    await c.cache.refresh();
    const [a, b] = c.cache.aliases as (ActionAlias & Record<string, unknown>)[];
    expect(Object.keys(a!).sort()).toEqual(["ack", "action_ref", "description", "enabled", "extra", "formats", "id", "name", "pack", "ref"]);
    expect(a).toMatchObject({ id: "id1", ref: "demo.alias_1", name: "alias_1", pack: "demo", description: "alias 1", enabled: true, action_ref: "core.local", formats: ["run 1"], ack: ack(), extra: extra() });
    expect(b!.ack).toBe(a!.ack);
    expect(b!.extra).toBe(a!.extra);
    expect(Object.isFrozen(a!.ack)).toBe(true);
    // The same through an event.
    c.cache.applyEvent("st2.actionalias__create", full(3));
    const third = c.cache.aliases[2] as ActionAlias & Record<string, unknown>;
    expect(third.uid).toBeUndefined();
    expect(third.result).toBeUndefined();
    expect(third.ack).toBe(a!.ack);
    // The index still answers with the kept alias.
    const m = c.cache.index.match("run 3");
    expect(m.kind === "match" && m.match.alias).toBe(third);
  });

  test("an update that renames an alias replaces it by id", async () => {
    const c = controlled();
    await c.cache.refresh();
    c.cache.applyEvent("st2.actionalias__update", alias(1, { name: "renamed", ref: "demo.renamed" }));
    expect(names(c.cache.aliases)).toEqual(["renamed", "alias_2"]);
  });

  test("other events and malformed aliases are ignored", async () => {
    const c = controlled();
    await c.cache.refresh();
    expect(c.cache.applyEvent("st2.announcement__errbot", { payload: {} })).toBe(false);
    expect(c.cache.applyEvent("st2.actionalias__create", { nonsense: true })).toBe(false);
    expect(c.cache.applyEvent("st2.actionalias__create", null)).toBe(false);
    expect(names(c.cache.aliases)).toEqual(["alias_1", "alias_2"]);
    expect(logs.text()).toContain("ignored st2.actionalias__create: the alias in it is malformed");
  });

  test("an event that arrives during a refresh survives the refresh's older answer", async () => {
    const c = controlled();
    await c.cache.refresh();
    const release = c.hold();
    const pending = c.cache.refresh();
    c.cache.applyEvent("st2.actionalias__create", alias(9));
    c.cache.applyEvent("st2.actionalias__delete", alias(1));
    release();
    await pending;
    expect(names(c.cache.aliases)).toEqual(["alias_2", "alias_9"]);
  });

  test("startTimer refreshes periodically until stop()", async () => {
    const c = controlled();
    c.cache.startTimer(20);
    await waitFor("three timed refreshes", () => c.loads() >= 3, 2000);
    c.cache.stop();
    const n = c.loads();
    await Bun.sleep(80);
    expect(c.loads()).toBe(n);
  });
});

describe("AliasCache with the client and the stream, against the emulator", () => {
  test("loads every page, follows create/update/delete events, re-syncs after a reconnect, and survives StackStorm going down", async () => {
    const emu = await startTestEmulator({
      apiKeys: { "cache-test-apikey-0001": "chatops" },
      admins: [],
      aliases: Array.from({ length: 120 }, (_, i) => ({ name: `a${i}`, pack: "demo", action_ref: "core.local", formats: [`a${i}`] })),
    });
    const client = new St2Client({
      http: new St2Http({ timeoutMs: 2_000 }),
      urls: { api: emu.apiUrl, auth: emu.authUrl, stream: emu.streamUrl },
      provider: new ApiKeyProvider("cache-test-apikey-0001"),
    });
    const cache = new AliasCache({ load: () => client.listAliases() });
    const stream = new St2Stream({
      client,
      routeKey: "errbot",
      onEvent: (e) => void cache.applyEvent(e.name, e.data),
      onConnect: () => void cache.refresh(),
      backoff: { initialMs: 20, maxMs: 50 },
    });
    try {
      stream.start();
      await waitFor("the first load", () => cache.aliases.length === 120 && emu.streamCount === 1, 3000);

      emu.addAlias({ name: "deploy", pack: "ops", action_ref: "core.local", formats: ["deploy {{app}}"] });
      await waitFor("the created alias", () => names(cache.aliases).includes("deploy"), 3000);
      emu.updateAlias({ name: "deploy", pack: "ops", action_ref: "core.local", formats: ["ship {{app}}"] });
      await waitFor("the updated alias", () => JSON.stringify(cache.aliases.at(-1)).includes("ship {{app}}"), 3000);
      emu.deleteAlias("ops.deploy");
      await waitFor("the deleted alias", () => !names(cache.aliases).includes("deploy"), 3000);

      // While the stream is away, a change is missed; the reconnection's refresh brings it in.
      const loadsBefore = emu.requests.filter((r) => r.path === "/api/v1/actionalias").length;
      await emu.faults.down(true);
      expect(await cache.refresh()).toBe(false);
      expect(cache.aliases).toHaveLength(120);
      expect(cache.lastError).toContain("StackStorm unreachable");
      await emu.faults.down(false);
      emu.setAliases([{ name: "only", pack: "demo", action_ref: "core.local", formats: ["only"] }]);
      await waitFor("the re-sync after reconnecting", () => names(cache.aliases).join() === "only", 5000);
      expect(emu.requests.filter((r) => r.path === "/api/v1/actionalias").length).toBeGreaterThan(loadsBefore);
      expect(cache.lastError).toBeUndefined();
      assertNoViolations(emu);
    } finally {
      await stream.stop();
      await emu.stop();
    }
  });
});
