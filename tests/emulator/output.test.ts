import { afterAll, beforeAll, expect, test } from "bun:test";
import { assertNoViolations, startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import { openStream } from "./sse.ts";

let st2: TestEmulator;
let headers: Record<string, string>;

beforeAll(async () => {
  st2 = await startTestEmulator({
    actions: [{ ref: "ops.deploy", runner: "local-shell-cmd", output: { pieces: ["one\n", "two\n", "three\n"], intervalMs: 30 } }],
    completionDelayMs: 5,
  });
  headers = { "X-Auth-Token": st2.createToken("st2admin").token, "content-type": "application/json" };
});
afterAll(() => st2.stop());

test("an execution prints over time: output events of that execution only, catch-up read, then it finishes", async () => {
  const create = () => fetch(`${st2.apiUrl}/executions`, { method: "POST", headers, body: JSON.stringify({ action: "ops.deploy" }) }).then((r) => r.json() as Promise<{ id: string }>);
  const ex = await create();
  const other = await create();
  const stream = await openStream(`${st2.streamUrl}/stream?events=st2.execution.output__create,st2.execution__update&execution_ids=${ex.id}`, headers);
  try {
    const first = await stream.next("st2.execution.output__create");
    expect(Object.keys(first.data).sort()).toEqual(["action_ref", "data", "delay", "execution_id", "id", "output_type", "runner_ref", "timestamp"]);
    expect(first.data).toMatchObject({ execution_id: ex.id, action_ref: "ops.deploy", runner_ref: "local-shell-cmd", output_type: "stdout" });
    const soFar = await fetch(`${st2.apiUrl}/executions/${ex.id}/output`, { headers });
    expect(soFar.headers.get("content-type")).toStartWith("text/plain");
    expect("one\ntwo\nthree\n").toStartWith(await soFar.text());
    const done = await stream.next("st2.execution__update", (d) => d.status === "succeeded");
    expect(done.data.result.stdout).toBe("one\ntwo\nthree\n");
    const events = stream.events();
    // Only this execution's events reached the filtered stream.
    expect(events.every((e) => (e.data.execution_id ?? e.data.id) === ex.id)).toBe(true);
    expect(events.filter((e) => e.event === "st2.execution.output__create").map((e) => e.data.data).join("")).toBe("one\ntwo\nthree\n");
    expect(await (await fetch(`${st2.apiUrl}/executions/${other.id}/output?output_type=stderr`, { headers })).text()).toBe("");
    expect((await fetch(`${st2.apiUrl}/executions/${"0".repeat(24)}/output`, { headers })).status).toBe(404);
  } finally {
    stream.close();
  }
  assertNoViolations(st2);
});
