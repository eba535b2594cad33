/**
 * The execution-management endpoints as StackStorm answers them: `GET /executions` filters,
 * `DELETE /executions/{id}` (200 with a faultstring for a state it cannot cancel),
 * `POST /executions/{id}/re_run`, with RBAC's refusals.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { assertNoViolations, startTestEmulator, type TestEmulator } from "../support/emulator.ts";

let st2: TestEmulator;
const auth = (user: string) => ({ "X-Auth-Token": st2.createToken(user).token, "content-type": "application/json" });
const call = (method: string, path: string, user = "alice", body?: unknown) =>
  fetch(`${st2.apiUrl}${path}`, { method, headers: auth(user), body: body === undefined ? undefined : JSON.stringify(body) });
/** Waits until the execution `id` has finished. */
const done = async (id: string) => {
  while (st2.executions.find((e) => e.id === id)?.status === "requested") await Bun.sleep(2);
};
const run = async (action: string, parameters: Record<string, unknown>, user = "alice") => (await (await call("POST", "/executions", user, { action, parameters })).json()) as { id: string };

beforeAll(async () => {
  st2 = await startTestEmulator({
    actions: [
      { ref: "ops.slow", runner: "local-shell-cmd", durationMs: 60_000 },
      { ref: "ops.fast", runner: "local-shell-cmd", durationMs: 1 },
      { ref: "ops.flow", runner: "orquesta", durationMs: 60_000 },
    ],
    users: { st2admin: "Ch@ngeMe", alice: "a", bob: "b" },
    canExecute: (user, ref) => !(user === "bob" && ref === "ops.slow"),
  });
});
afterAll(async () => {
  assertNoViolations(st2);
  await st2.stop();
});

describe("cancel", () => {
  test("a requested execution is cancelled at once: 200 with the execution", async () => {
    const { id } = await run("ops.slow", { cmd: "sleep 60" });
    const res = await call("DELETE", `/executions/${id}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id, status: "canceled" });
    expect((await (await call("DELETE", `/executions/${id}`)).json()).status).toBe("canceled");
  });
  test("a finished one: 200 and StackStorm's faultstring", async () => {
    const { id } = await run("ops.fast", {});
    await done(id);
    const res = await call("DELETE", `/executions/${id}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ faultstring: "Action cannot be canceled. State = succeeded." });
  });
  test("RBAC refuses execution_stop; an unknown id is 404", async () => {
    const { id } = await run("ops.slow", {});
    const res = await call("DELETE", `/executions/${id}`, "bob");
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ faultstring: `User "bob" doesn't have required permission "execution_stop" on resource "execution:${id}"` });
    expect((await call("DELETE", "/executions/5f0000000000000000000000")).status).toBe(404);
  });
});

describe("re_run", () => {
  test("the old parameters with the new laid over them, context naming the original, 201", async () => {
    const { id } = await run("ops.slow", { cmd: "a", cwd: "/tmp" });
    const res = await call("POST", `/executions/${id}/re_run`, "alice", { parameters: { cmd: "b" } });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ action: { ref: "ops.slow" }, parameters: { cmd: "b", cwd: "/tmp" }, context: { user: "alice", "re-run": { ref: id } } });
  });
  test("tasks only for Orquesta; `user` only for admins; RBAC's action_execute", async () => {
    const { id } = await run("ops.slow", {});
    expect(await (await call("POST", `/executions/${id}/re_run`, "alice", { tasks: ["t1"] })).json()).toEqual({ faultstring: "Task option is only supported for Orquesta workflows." });
    const flow = await run("ops.flow", {});
    expect((await call("POST", `/executions/${flow.id}/re_run`, "alice", { tasks: ["t1"] })).status).toBe(201);
    expect((await call("POST", `/executions/${id}/re_run`, "alice", { user: "bob" })).status).toBe(403);
    expect((await call("POST", `/executions/${id}/re_run`, "st2admin", { user: "bob" })).status).toBe(201);
    const refused = await call("POST", `/executions/${id}/re_run`, "bob", {});
    expect(await refused.json()).toEqual({ faultstring: `User "bob" doesn't have required permission "action_execute" on resource "action:ops:slow"` });
  });
});

describe("GET /executions filters", () => {
  test("action, status, user, parent=null, exclude_attributes; newest first", async () => {
    const mine = await run("ops.fast", { n: 1 }, "bob");
    await done(mine.id);
    const res = await call("GET", "/executions?action=ops.fast&status=succeeded&user=bob&parent=null&exclude_attributes=result&limit=5");
    const list = (await res.json()) as Record<string, unknown>[];
    expect(list.map((e) => e.id)).toEqual([mine.id]);
    expect(list[0]).not.toHaveProperty("result");
    const all = (await (await call("GET", "/executions?limit=100")).json()) as { id: string }[];
    expect(all[0]!.id).toBe(st2.executions.at(-1)!.id);
  });
});
