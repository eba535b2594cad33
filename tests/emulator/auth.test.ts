import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { assertNoViolations, startTestEmulator, type TestEmulator } from "../support/emulator.ts";

let st2: TestEmulator;
const basic = (user: string, pass: string) => ({ Authorization: `Basic ${btoa(`${user}:${pass}`)}` });

beforeAll(async () => {
  st2 = await startTestEmulator({
    users: { st2admin: "Ch@ngeMe", alice: "wonderland" },
    apiKeys: { "key-of-alice": "alice" },
    maxTokenTtl: 3600,
  });
});
afterAll(() => st2.stop());

async function login(user = "st2admin", pass = "Ch@ngeMe", body?: unknown) {
  return fetch(`${st2.authUrl}/tokens`, {
    method: "POST",
    headers: { ...basic(user, pass), "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

describe("POST /auth/v1/tokens", () => {
  test("Basic credentials get a 201 token with an ISO-8601 Z expiry at the max ttl", async () => {
    const before = Date.now();
    const res = await login();
    expect(res.status).toBe(201);
    const body = await res.json();
    expect(body).toMatchObject({ user: "st2admin", metadata: {} });
    expect(body.token).toMatch(/^[0-9a-f]{32}$/);
    expect(body.id).toMatch(/^[0-9a-f]{24}$/);
    expect(body.expiry).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const ttl = (Date.parse(body.expiry) - before) / 1000;
    expect(ttl).toBeGreaterThan(3595);
    expect(ttl).toBeLessThan(3605);
  });

  test("a requested ttl shortens the expiry", async () => {
    const res = await login("alice", "wonderland", { ttl: 60 });
    expect(res.status).toBe(201);
    const body = await res.json();
    expect(body.user).toBe("alice");
    expect((Date.parse(body.expiry) - Date.now()) / 1000).toBeLessThan(61);
  });

  test("a ttl above the maximum is a 400", async () => {
    const res = await login("st2admin", "Ch@ngeMe", { ttl: 7200 });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ faultstring: "TTL specified 7200 is greater than max allowed 3600." });
  });

  test("a wrong password or no Authorization header is a 401", async () => {
    for (const res of [await login("st2admin", "nope"), await fetch(`${st2.authUrl}/tokens`, { method: "POST" })]) {
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ faultstring: "Invalid or missing credentials" });
    }
  });
});

describe("credentials on API calls", () => {
  const user = (headers: Record<string, string>, query = "") => fetch(`${st2.apiUrl}/user${query}`, { headers });

  test("a token in the header or the query authenticates as its user", async () => {
    const { token } = await (await login("alice", "wonderland")).json();
    const viaHeader = await user({ "X-Auth-Token": token });
    expect(viaHeader.status).toBe(200);
    expect(await viaHeader.json()).toMatchObject({ username: "alice", authentication: { method: "authentication token", location: "header" } });
    const viaQuery = await user({}, `?x-auth-token=${token}`);
    expect((await viaQuery.json()).authentication.location).toBe("query");
    const recorded = st2.requests.at(-1)!;
    expect(recorded.credential).toMatchObject({ kind: "token", location: "query", user: "alice" });
  });

  test("an API key authenticates as its owner", async () => {
    const res = await user({ "St2-Api-Key": "key-of-alice" });
    expect(await res.json()).toMatchObject({ username: "alice", authentication: { method: "API key" } });
  });

  test("missing, unknown, and expired credentials get StackStorm's 401 reasons", async () => {
    const none = await user({});
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ faultstring: "Unauthorized - One of Token or API key required." });

    const unknownToken = await user({ "X-Auth-Token": "deadbeef" });
    expect(await unknownToken.json()).toEqual({ faultstring: "Unauthorized" });

    const unknownKey = await user({ "St2-Api-Key": "nope" });
    expect((await unknownKey.json()).faultstring).toMatch(/^Unauthorized - ApiKey with key_hash=[0-9a-f]{64} not found\.$/);

    const token = st2.createToken("st2admin", 60);
    token.expiry = new Date(Date.now() - 1);
    const expired = await user({ "X-Auth-Token": token.token });
    expect(expired.status).toBe(401);
    expect(await expired.json()).toEqual({ faultstring: "Unauthorized - Token has expired." });
  });
});

describe("POST /auth/v1/tokens/validate", () => {
  test("answers valid true/false and itself needs a credential", async () => {
    const { token } = await (await login()).json();
    const validate = (t: string, headers: Record<string, string>) =>
      fetch(`${st2.authUrl}/tokens/validate`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify({ token: t }) });
    expect(await (await validate(token, { "X-Auth-Token": token })).json()).toEqual({ valid: true });
    expect(await (await validate("0000", { "X-Auth-Token": token })).json()).toEqual({ valid: false });
    const anonymous = await validate(token, {});
    expect(anonymous.status).toBe(401);
  });

  test("the requests above are all valid StackStorm requests", () => {
    assertNoViolations(st2);
  });
});
