/** Inquiries in chat: the answer parser/validator and the fields read from a schema. */
import { describe, expect, test } from "bun:test";
import { parseAnswer } from "../../src/bot/inquiries/answer.ts";
import { inquiryFields } from "../../src/bot/inquiries/schema.ts";
import { approve, rich } from "./inquiry-schemas.ts";

describe("parseAnswer", () => {
  const ok = (text: string, schema: Record<string, unknown>) => {
    const r = parseAnswer(text, schema);
    if (!r.ok) throw new Error(`expected ok, got: ${r.error}`);
    return r.response;
  };
  const err = (text: string, schema: Record<string, unknown>) => {
    const r = parseAnswer(text, schema);
    if (r.ok) throw new Error(`expected an error, got ${JSON.stringify(r.response)}`);
    return r.error;
  };

  test("booleans accept yes/no, true/false, y/n, on/off, 1/0 in any case", () => {
    for (const yes of ["yes", "YES", "true", "y", "on", "1"]) expect(ok(`approved=${yes}`, approve)).toEqual({ approved: true });
    for (const no of ["no", "False", "n", "off", "0"]) expect(ok(`approved=${no}`, approve)).toEqual({ approved: false });
  });

  test("a wrong boolean names the property and what it takes", () => {
    expect(err("approved=maybe", approve)).toBe(`"approved" must be yes or no, not "maybe".`);
  });

  test("a schema with one property takes the bare value", () => {
    expect(ok("yes", approve)).toEqual({ approved: true });
    expect(ok("  no ", approve)).toEqual({ approved: false });
    expect(err("perhaps", approve)).toBe(`"approved" must be yes or no, not "perhaps".`);
  });

  test("a misspelt property is refused by a closed schema, naming what it asks for", () => {
    expect(err("aproved=yes", approve)).toBe(`This inquiry does not ask for "aproved"; it asks for: approved.`);
  });

  test("a JSON object is checked without casting", () => {
    expect(ok(`{"approved": true}`, approve)).toEqual({ approved: true });
    expect(err(`{"approved": "yes"}`, approve)).toBe(`"approved" must be yes or no, but the JSON gives "yes" (a string).`);
    expect(err(`{"approved": true, "extra": 1}`, approve)).toBe(`This inquiry does not ask for "extra"; it asks for: approved.`);
    expect(err(`[true]`, approve)).toBe(`"approved" must be yes or no, not "[true]".`);
    expect(err(`{"approved": tru`, approve)).toContain("not valid JSON");
    expect(err(`{}`, approve)).toBe(`Missing the required property "approved" (yes or no: Approve the deploy?).`);
  });

  test("values are cast per property type; quotes allow spaces; curly quotes count as quotes", () => {
    expect(ok(`env=staging count=3 ratio=0.5 reason="looks good to me" tags=a,b go=no either=7`, rich)).toEqual({
      env: "staging",
      count: 3,
      ratio: 0.5,
      reason: "looks good to me",
      tags: ["a", "b"],
      go: false,
      either: 7,
    });
    expect(ok(`env=production count=+2 reason='single quoted' either=abc tags=["x","y"]`, rich)).toEqual({
      env: "production",
      count: 2,
      reason: "single quoted",
      either: "abc",
      tags: ["x", "y"],
    });
    expect(ok(`env=staging count=1 reason=\u201cfrom slack\u201d`, rich)).toMatchObject({ reason: "from slack" });
    expect(ok(`env=staging count=1 reason="say \\"hi\\""`, rich)).toMatchObject({ reason: 'say "hi"' });
  });

  test("integers, numbers and enums are checked with a message naming the property", () => {
    expect(err("env=staging count=2.5", rich)).toBe(`"count" must be a whole number, not "2.5".`);
    expect(err("env=staging count=3 ratio=lots", rich)).toBe(`"ratio" must be a number, not "lots".`);
    expect(err("env=prod count=3", rich)).toBe(`"env" must be one of: staging, production; "prod" is not.`);
  });

  test("required properties (draft-4 array and draft-3 flag) are listed when missing", () => {
    expect(err("ratio=1", rich)).toBe(`Missing required properties "env" (one of: staging, production: Where to), "count" (a whole number: How many hosts).`);
  });

  test("a property given twice, unreadable text, and an empty answer are refused", () => {
    expect(err("env=staging env=production count=1", rich)).toBe(`"env" is given twice.`);
    expect(err("deploy it now", rich)).toContain(`I could not read "deploy it now" as an answer`);
    expect(err("env=\"unterminated count=1", rich)).toContain("I could not read");
    expect(err("   ", approve)).toBe("Give your answer after the inquiry id.");
  });

  test("a lone text property keeps a bare value that contains '='", () => {
    const url = { type: "object", properties: { link: { type: "string", required: true } } };
    expect(ok("https://example.com/?a=b", url)).toEqual({ link: "https://example.com/?a=b" });
    expect(ok(`link="https://example.com/?a=b"`, url)).toEqual({ link: "https://example.com/?a=b" });
  });

  test("an open schema passes unknown properties through as text", () => {
    const open = { type: "object", properties: { approved: { type: "boolean" } } };
    expect(ok("approved=yes note=hi", open)).toEqual({ approved: true, note: "hi" });
  });
});

describe("inquiryFields", () => {
  test("reads types, descriptions, enums and both spellings of required", () => {
    const fields = inquiryFields(rich);
    expect(fields.map((f) => f.name)).toEqual(["env", "count", "ratio", "reason", "tags", "either", "go"]);
    expect(fields[0]).toEqual({ name: "env", types: ["string"], required: true, description: "Where to", enum: ["staging", "production"] });
    expect(inquiryFields(approve)[0]!.required).toBe(true);
    expect(inquiryFields({ properties: { x: "nonsense" } })).toEqual([{ name: "x", types: [], required: false }]);
    expect(inquiryFields({})).toEqual([]);
  });
});
