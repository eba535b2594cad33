import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { assertNoViolations, startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import { openStream } from "./sse.ts";

let st2: TestEmulator;
const as = (user: string) => ({ "X-Auth-Token": st2.createToken(user).token, "content-type": "application/json" });
const schema = {
  type: "object",
  properties: { approved: { type: "boolean", description: "Approve the deploy?", required: true } },
};

beforeAll(async () => {
  st2 = await startTestEmulator({ users: { st2admin: "Ch@ngeMe", alice: "a", bob: "b" } });
});
afterAll(() => st2.stop());

const put = (id: string, body: unknown, user = "alice") =>
  fetch(`${st2.apiUrl}/inquiries/${id}`, { method: "PUT", headers: as(user), body: JSON.stringify(body) });

describe("inquiries", () => {
  test("a pending inquiry shows on the stream and in the list", async () => {
    const stream = await openStream(`${st2.streamUrl}/stream?events=st2.execution__*`, as("alice"));
    try {
      const id = st2.createInquiry({ schema, users: ["alice"], route: "errbot" });
      const event = await stream.next("st2.execution__create", (d) => d.id === id);
      expect(event.data).toMatchObject({ status: "pending", runner: { name: "inquirer" }, result: { schema, users: ["alice"] } });
      const list = await (await fetch(`${st2.apiUrl}/inquiries`, { headers: as("bob") })).json();
      expect(list).toContainEqual({ id, route: "errbot", ttl: 1440, users: ["alice"], roles: [], schema });
      const one = await (await fetch(`${st2.apiUrl}/inquiries/${id}`, { headers: as("bob") })).json();
      expect(one.id).toBe(id);
    } finally {
      stream.close();
    }
  });

  test("403 for a user not listed, 400 for a response the schema refuses, 200 then 400 once answered", async () => {
    const id = st2.createInquiry({ schema, users: ["alice"] });
    const denied = await put(id, { id, response: { approved: true } }, "bob");
    expect(denied.status).toBe(403);
    expect(await denied.json()).toEqual({ faultstring: `User "bob" does not have permission to respond to inquiry "${id}".` });

    const invalid = await put(id, { id, response: { approved: "yes" } });
    expect(invalid.status).toBe(400);
    expect((await invalid.json()).faultstring).toBe(`Response for inquiry "${id}" did not pass schema validation. 'yes' is not of type 'boolean'`);
    const missing = await put(id, { id, response: {} });
    expect((await missing.json()).faultstring).toEndWith("'approved' is a required property");

    const ok = await put(id, { id, response: { approved: true } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ id, response: { approved: true } });
    const again = await put(id, { id, response: { approved: true } });
    expect(again.status).toBe(400);
    expect(await again.json()).toEqual({ faultstring: `Inquiry "${id}" has already been responded to.` });
  });

  test("unknown ids are 404; executions that are not inquiries are 400", async () => {
    const unknown = await fetch(`${st2.apiUrl}/inquiries/000000000000000000000000`, { headers: as("alice") });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ faultstring: "The resource could not be found." });
  });

  test("all requests were valid", () => {
    assertNoViolations(st2);
  });
});
