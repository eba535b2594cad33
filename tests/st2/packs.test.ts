/** `stackstorm.packs`: the config key, the filter and doctor's check for a pack with no aliases. */
import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import { packsWithoutAliases, servedBy } from "../../src/st2/packs.ts";

describe("stackstorm.packs", () => {
  test("absent: every pack; a list: only those (exact names)", () => {
    expect(parseConfig("[stackstorm]\n", "<t>", {}).stackstorm.packs).toBeUndefined();
    expect(parseConfig('[stackstorm]\npacks = ["ops", "deploy"]\n', "<t>", {}).stackstorm.packs).toEqual(["ops", "deploy"]);
    expect(servedBy(undefined)({ pack: "x" })).toBe(true);
    const ops = servedBy(["ops"]);
    expect([ops({ pack: "ops" }), ops({ pack: "Ops" }), ops({ pack: "ops2" })]).toEqual([true, false, false]);
  });
  test("an empty list or an empty name is refused (an empty list would serve nothing)", () => {
    expect(() => parseConfig("[stackstorm]\npacks = []\n", "<t>", {})).toThrow("at least one pack");
    expect(() => parseConfig('[stackstorm]\npacks = [""]\n', "<t>", {})).toThrow("must name a pack");
  });
  test("doctor names configured packs with no aliases", () => {
    expect(packsWithoutAliases(["ops", "opps"], [{ pack: "ops" }, { pack: "web" }])).toEqual(["opps"]);
    expect(packsWithoutAliases(undefined, [])).toEqual([]);
  });
});
