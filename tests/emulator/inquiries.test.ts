import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { assertNoViolations, startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import { openStream } from "./sse.ts";

let st2: TestEmulator;
const as = (user: string) => ({ "X-Auth-Token": st2.createToken(user).token, "content-type": "application/json" });
const schema = {
  type: "object",
  properties: { approved: { type: "boolean", description: "Approve the deploy?", required: true } },
};

/** An Orquesta workflow with two parallel `core.ask` tasks, reached through an alias, as in StackStorm's docs. */
const deployWorkflow = { ref: "ops.deploy", runner: "orquesta", asks: [
  { task: "approve", schema, route: "developers" },
  { task: "second_opinion", schema, route: "developers", users: ["bob"] },
] };
const deployAlias = { name: "deploy", pack: "ops", action_ref: "ops.deploy", formats: ["deploy {{app}}"] };

beforeAll(async () => {
  st2 = await startTestEmulator({
    users: { st2admin: "Ch@ngeMe", alice: "a", bob: "b" },
    actions: [deployWorkflow],
    aliases: [deployAlias],
    completionDelayMs: 5,
  });
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

  test("a workflow started from chat: its core.ask tasks pend with StackStorm's events and context, then it resumes", async () => {
    const stream = await openStream(`${st2.streamUrl}/stream?events=st2.execution__*,st2.announcement__*`, as("st2admin"));
    try {
      const res = await fetch(`${st2.apiUrl}/aliasexecution`, {
        method: "POST",
        headers: as("st2admin"),
        body: JSON.stringify({ name: "deploy", format: "deploy {{app}}", command: "deploy shop", user: "alice", source_channel: "#ops", notification_route: "errbot" }),
      });
      expect(res.status).toBe(201);
      const wfId: string = (await res.json()).execution.id;
      await stream.next("st2.execution__update", (d) => d.id === wfId && d.status === "paused");
      const asks = st2.executions.filter((e) => e.parentId === wfId);
      expect(asks.map((e) => e.status)).toEqual(["pending", "pending"]);
      // Made in the same second by one process: the ids differ only in the 3-byte counter.
      expect(asks[0]!.id.slice(0, 18)).toBe(asks[1]!.id.slice(0, 18));
      expect(asks[0]!.id).not.toBe(asks[1]!.id);

      const seen = stream.events().filter((e) => e.data.id === asks[0]!.id).map((e) => `${e.event} ${e.data.status}`);
      expect(seen).toEqual(["st2.execution__create requested", "st2.execution__update scheduled", "st2.execution__update running", "st2.execution__update pending"]);
      const pending = stream.events().find((e) => e.data.id === asks[0]!.id && e.data.status === "pending")!.data;
      expect(pending).toMatchObject({
        runner: { name: "inquirer" },
        action: { ref: "core.ask" },
        parent: wfId,
        parameters: { schema, route: "developers" },
        result: { schema, route: "developers", users: [], roles: [], ttl: 1440 },
        context: {
          pack: "core",
          user: "st2admin",
          api_user: "alice",
          source_channel: "#ops",
          parent: { execution_id: wfId, user: "st2admin", pack: "ops", api_user: "alice", source_channel: "#ops" },
          orquesta: { task_name: "approve", task_route: 0 },
        },
      });
      const listed = await (await fetch(`${st2.apiUrl}/inquiries`, { headers: as("alice") })).json();
      expect(listed.map((i: { id: string }) => i.id)).toEqual(expect.arrayContaining(asks.map((e) => e.id)));

      expect((await put(asks[0]!.id, { id: asks[0]!.id, response: { approved: true } })).status).toBe(200);
      expect(st2.executions.find((e) => e.id === wfId)!.status).toBe("paused");
      expect((await put(asks[1]!.id, { id: asks[1]!.id, response: { approved: true } }, "bob")).status).toBe(200);
      await stream.next("st2.execution__update", (d) => d.id === wfId && d.status === "succeeded");
      await stream.next("st2.announcement__errbot", (d) => d.payload.channel === "#ops" && d.payload.message.includes(wfId));
    } finally {
      stream.close();
    }
  });

  test("all requests were valid", () => {
    assertNoViolations(st2);
  });
});
