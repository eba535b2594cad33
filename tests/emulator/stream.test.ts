import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import { openStream } from "./sse.ts";

let st2: TestEmulator;
let auth: Record<string, string>;

beforeAll(async () => {
  st2 = await startTestEmulator({ aliases: sampleAliases, actions: sampleActions, heartbeatMs: 40, apiKeys: ["k1"] });
  auth = { "St2-Api-Key": "k1" };
});
afterAll(() => st2.stop());

describe("GET /stream/v1/stream", () => {
  test("is text/event-stream, opens with a bare newline and beats every heartbeatMs", async () => {
    const stream = await openStream(`${st2.streamUrl}/stream`, auth);
    try {
      expect(stream.status).toBe(200);
      expect(stream.headers.get("content-type")).toStartWith("text/event-stream");
      await stream.until((t) => t === "\n\n\n", 2000);
    } finally {
      stream.close();
    }
  });

  test("frames events as `event:`/`data:` with json.dumps spacing", async () => {
    const stream = await openStream(`${st2.streamUrl}/stream?events=st2.announcement__*`, auth);
    try {
      st2.announce("errbot", { message: "hi ✓", channel: "#c" });
      await stream.until((t) => t.includes("\n\n", 1));
      expect(stream.text()).toStartWith('\nevent: st2.announcement__errbot\ndata: {"payload": {"message": "hi \\u2713", "channel": "#c"}}\n\n');
    } finally {
      stream.close();
    }
  });

  test("filters by glob; alias events come only when asked for", async () => {
    const defaults = await openStream(`${st2.streamUrl}/stream`, auth);
    const aliases = await openStream(`${st2.streamUrl}/stream?events=st2.actionalias__*,st2.announcement__chatops`, auth);
    try {
      st2.publish("st2.sensor__create", { ignored: true });
      const added = st2.addAlias({ name: "new_one", pack: "demo", action_ref: "demo.x", formats: ["new one"] });
      st2.updateAlias({ ...added, description: "changed" });
      st2.deleteAlias("demo.new_one");
      st2.announce("errbot", { message: "not for the alias listener" });
      st2.announce("chatops", { message: "for both" });
      await aliases.next("st2.announcement__chatops");
      await defaults.next("st2.announcement__chatops");
      expect(aliases.events().map((e) => e.event)).toEqual([
        "st2.actionalias__create",
        "st2.actionalias__update",
        "st2.actionalias__delete",
        "st2.announcement__chatops",
      ]);
      expect(aliases.events()[1]!.data).toMatchObject({ ref: "demo.new_one", description: "changed", id: added.id });
      expect(defaults.events().map((e) => e.event)).toEqual(["st2.announcement__errbot", "st2.announcement__chatops"]);
    } finally {
      defaults.close();
      aliases.close();
    }
  });

  test("execution events follow an alias execution", async () => {
    const stream = await openStream(`${st2.streamUrl}/stream?events=st2.execution__*`, auth);
    try {
      const res = await fetch(`${st2.apiUrl}/aliasexecution`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ name: "pack_list", format: "pack list", command: "pack list", source_channel: "c" }),
      });
      const { execution } = await res.json();
      const update = await stream.next("st2.execution__update", (d) => d.id === execution.id && d.status === "succeeded");
      expect(update.data.result.result.core).toBe("3.9.0");
      expect(stream.events()[0]).toMatchObject({ event: "st2.execution__create", data: { id: execution.id, status: "requested" } });
    } finally {
      stream.close();
    }
  });

  test("needs a credential", async () => {
    const res = await fetch(`${st2.streamUrl}/stream`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ faultstring: "Unauthorized - One of Token or API key required." });
  });
});
