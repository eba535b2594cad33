import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { assertNoViolations, startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import { openApiValidator } from "../support/openapi.ts";

const validator = openApiValidator();
const messages = (req: Parameters<typeof validator.validate>[0]) => validator.validate(req).map((v) => v.message);

describe("the OpenAPI validator", () => {
  test("accepts the requests a bridge sends", () => {
    expect(messages({ method: "GET", path: "/api/v1/actionalias", query: { limit: "100", offset: "0" } })).toEqual([]);
    expect(messages({ method: "GET", path: "/api/v1/actionalias/help", query: { filter: "x" } })).toEqual([]);
    expect(messages({ method: "GET", path: "/api/v1/actionalias/packs.pack_list" })).toEqual([]);
    expect(
      messages({
        method: "POST",
        path: "/api/v1/aliasexecution",
        body: { name: "a", format: "f", command: "c", user: "u", source_channel: "#c", source_context: { thread: "1" }, notification_route: "errbot" },
      }),
    ).toEqual([]);
    expect(messages({ method: "POST", path: "/auth/v1/tokens", body: { ttl: 60 } })).toEqual([]);
    expect(messages({ method: "PUT", path: "/api/v1/inquiries/abc", body: { id: "abc", response: { ok: true } } })).toEqual([]);
  });

  test("flags unknown paths and methods", () => {
    expect(messages({ method: "GET", path: "/api/v1/chatops/match" })).toEqual(["unknown path /api/v1/chatops/match"]);
    expect(messages({ method: "DELETE", path: "/api/v1/aliasexecution" })).toEqual(["DELETE is not allowed on /api/v1/aliasexecution"]);
  });

  test("flags unknown keys, missing fields and wrong types in bodies", () => {
    expect(messages({ method: "POST", path: "/api/v1/aliasexecution", body: { name: "a", format: "f", command: "c", source_channel: "#c", thread_ts: "1" } })).toEqual([
      "body.thread_ts is not allowed (additionalProperties: false)",
    ]);
    expect(messages({ method: "POST", path: "/api/v1/aliasexecution", body: { name: "a", command: 5, source_channel: "#c" } })).toEqual([
      "body.format is required",
      "body.command should be string, got 5",
    ]);
    expect(messages({ method: "POST", path: "/api/v1/aliasexecution/match_and_execute", body: { command: "c", source_channel: "x" } })).toEqual([
      "body.user is required",
    ]);
    expect(messages({ method: "POST", path: "/auth/v1/tokens", body: { ttl: "long" } })).toEqual(['body.ttl should be integer or null, got "long"']);
  });

  test("flags query parameters of the wrong type", () => {
    expect(messages({ method: "GET", path: "/api/v1/actionalias", query: { limit: "ten" } })).toEqual(['query parameter "limit" is not an integer: ten']);
  });
});

describe("startTestEmulator", () => {
  let st2: TestEmulator;
  beforeAll(async () => {
    st2 = await startTestEmulator();
  });
  afterAll(() => st2.stop());

  test("collects violations from real requests and assertNoViolations reports them", async () => {
    const token = st2.createToken("st2admin").token;
    await fetch(`${st2.apiUrl}/aliasexecution`, {
      method: "POST",
      headers: { "X-Auth-Token": token, "content-type": "application/json" },
      body: JSON.stringify({ name: "a", format: "f", command: "c", source_channel: "#c", thread: "1" }),
    });
    expect(() => assertNoViolations(st2)).toThrow("POST /api/v1/aliasexecution [body] body.thread is not allowed (additionalProperties: false)");
  });
});
