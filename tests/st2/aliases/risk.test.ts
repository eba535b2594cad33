/**
 * Formats a chat user could make exponential are refused (reported as index problems), so no
 * operator's regex turns the matcher into a way to stop the bot.
 */
import { describe, expect, test } from "bun:test";
import { compileFormat, FormatError } from "../../../src/st2/aliases/format.ts";
import { AliasIndex } from "../../../src/st2/aliases/index.ts";
import type { ActionAlias } from "../../../src/st2/aliases/types.ts";

const refused = (format: string) => {
  try {
    compileFormat(format);
    return undefined;
  } catch (err) {
    return err instanceof FormatError ? err.reason : String(err);
  }
};

describe("catastrophic formats", () => {
  test.each([
    ["check (\\w+\\s?)+ done", "a repeat inside a repeat"],
    ["check ({{x}} )+done", "an alternation under a repeat"], // the parameter's own `(?:(?<=')…|…|.+?)`
    ["check (a*)* now", "a repeat inside a repeat"],
    ["check (.|.)*!", "an alternation under a repeat"],
    ["check (a|ab)+ x", "an alternation under a repeat"],
    ["check (?:\\d|\\w)+ x", "an alternation under a repeat"],
  ])("%p is refused", (format, why) => {
    expect(refused(format)).toStartWith(why);
  });

  test.each(["((beep|honk|meep)-?)+ {{vin}}[!.]*", "(a|b)* {{x}}", "deploy {{app}}(?: to {{env=staging}})?", "run {{cmd}} on {{hosts}}", "(x+)? {{y}}"])(
    "%p is accepted",
    (format) => expect(refused(format)).toBeUndefined(),
  );

  test("the index reports the format and a command built to blow it up is answered at once", () => {
    const alias = { name: "evil", pack: "p", ref: "p.evil", action_ref: "p.a", enabled: true, formats: ["check ({{x}} )+done", "check {{y}}"] } as ActionAlias;
    const index = new AliasIndex([alias]);
    expect(index.problems.map((p) => p.format)).toEqual(["check ({{x}} )+done"]);
    // Exponential in the number of words under the refused format; the other format still matches.
    const o = index.match(`check ${"a ".repeat(40)}done!`);
    expect(o.kind === "match" && o.match.representation).toBe("check {{y}}");
  });
});
