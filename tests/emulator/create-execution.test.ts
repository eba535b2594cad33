/** `POST /api/v1/executions`: running an action directly, as StackStorm's executions controller does. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import { openStream } from "./sse.ts";

let st2: TestEmulator;
const auth = (user: string) => ({ "X-Auth-Token": st2.createToken(user).token, "content-type": "application/json" });

beforeAll(async () => {
  st2 = await startTestEmulator({
    aliases: sampleAliases,
    actions: [...sampleActions, { ref: "duo.auth_push", runner: "python-script" }],
    users: { st2admin: "Ch@ngeMe", alice: "a", mallory: "m" },
    canExecute: (user) => user !== "mallory",
    completionDelayMs: 5,
  });
});
afterAll(() => st2.stop());

const post = (body: unknown, user = "alice") =>
  fetch(`${st2.apiUrl}/executions`, { method: "POST", headers: auth(user), body: JSON.stringify(body) });

describe("POST /executions", () => {
  test("201: the action runs with its parameters as the authenticated user, and shows on the stream", async () => {
    const stream = await openStream(`${st2.streamUrl}/stream?events=st2.execution__create`, auth("alice"));
    try {
      const res = await post({ action: "duo.auth_push", parameters: { uuid: "u-1", user: "alice", channel: "#ops", hint: "Deploy" } });
      expect(res.status).toBe(201);
      const body = await res.json();
      expect(body).toMatchObject({
        status: "requested",
        action: { ref: "duo.auth_push" },
        parameters: { uuid: "u-1", user: "alice", channel: "#ops", hint: "Deploy" },
        context: { user: "alice" },
      });
      expect(st2.executions.at(-1)).toMatchObject({ id: body.id, user: "alice", action: { ref: "duo.auth_push" } });
      // Not an alias execution: nothing is announced on a chat route when it ends.
      expect(st2.executions.at(-1)!.notifyRoute).toBeUndefined();
      const event = await stream.next("st2.execution__create", (d) => d.id === body.id);
      expect(event.data.parameters.uuid).toBe("u-1");
    } finally {
      stream.close();
    }
    await st2.settled();
    expect(st2.executions.at(-1)!.status).toBe("succeeded");
  });

  test("an action an alias points at counts as registered", async () => {
    const res = await post({ action: sampleAliases[0]!.action_ref });
    expect(res.status).toBe(201);
  });

  test("the refusals StackStorm makes, with its status codes and words", async () => {
    const cases: [unknown, string, number, string][] = [
      [{ parameters: {} }, "alice", 400, "'action' is a required property"],
      [{ action: "duo.auth_push", thread: "t" }, "alice", 400, "Additional properties are not allowed ('thread' was unexpected)"],
      [{ action: "duo.auth_push", parameters: "x" }, "alice", 400, "'x' is not of type 'object'"],
      [{ action: "duo.auth_push", parameters: { "a-b": 1 } }, "alice", 400, "'a-b' does not match any of the regexes: '^\\\\w+$'"],
      [{ action: "nope.missing" }, "alice", 400, 'Action "nope.missing" cannot be found.'],
      [{ action: "duo.auth_push" }, "mallory", 403, 'User "mallory" doesn\'t have required permission "action_execute" on resource "action:duo:auth_push"'],
      [{ action: "duo.auth_push", user: "bob" }, "alice", 403, '"user" attribute can only be provided by admins'],
    ];
    const before = st2.executions.length;
    for (const [body, user, status, fault] of cases) {
      const res = await post(body, user);
      expect({ body, status: res.status, fault: (await res.json()).faultstring }).toEqual({ body, status, fault });
    }
    expect(st2.executions.length).toBe(before);
  });

  test("an admin may run an action as another user", async () => {
    const res = await post({ action: "duo.auth_push", user: "bob" }, "st2admin");
    expect(res.status).toBe(201);
    expect((await res.json()).context.user).toBe("bob");
  });

  test("without a credential: 401", async () => {
    const res = await fetch(`${st2.apiUrl}/executions`, { method: "POST", body: JSON.stringify({ action: "duo.auth_push" }) });
    expect(res.status).toBe(401);
  });
});
