import { afterEach, describe, expect, test } from "bun:test";
import { ApiKeyProvider, PasswordProvider, TokenProvider, type CredentialProvider } from "../../src/st2/credentials.ts";
import { captureLogs, jsonResponse } from "./helpers.ts";
import { announcement, cleanup, runCleanups, sseServer, startStream } from "./stream-fixture.ts";
import { waitFor } from "../support/wait.ts";

const enc = new TextEncoder();
let logs = captureLogs();
afterEach(async () => {
  await runCleanups();
  logs.restore();
  logs = captureLogs();
});

describe("St2Stream", () => {
  test("asks for the announcement route, alias changes and extra events, with the credential header", async () => {
    const fake = sseServer();
    cleanup(fake.stop);
    const { s } = startStream(fake.stream, new ApiKeyProvider("stream-api-key-0001"), { extraEvents: ["st2.execution__create"] });
    await waitFor("a connection", () => fake.conns[0], 3000);
    expect(fake.conns[0]!.query.get("events")!.split(",")).toEqual([
      "st2.announcement__errbot",
      "st2.actionalias__create",
      "st2.actionalias__update",
      "st2.actionalias__delete",
      "st2.execution__create",
    ]);
    expect(fake.conns[0]!.headers.get("St2-Api-Key")).toBe("stream-api-key-0001");
    expect(fake.conns[0]!.headers.get("Accept")).toBe("text/event-stream");
    await waitFor("open", () => s.state().state === "open", 3000);
  });

  test("delivers events in order, parsed, and a failing handler does not stop the stream", async () => {
    const fake = sseServer();
    cleanup(fake.stop);
    const seen: string[] = [];
    const { s } = startStream(fake.stream, new ApiKeyProvider("stream-api-key-0002"), {
      onEvent: async (e) => {
        const msg = ((e.data as { payload: { message: string } }).payload).message;
        seen.push(msg);
        if (msg === "one") throw new Error("handler blew up");
        await Bun.sleep(5);
      },
    });
    const conn = await waitFor("a connection", () => fake.conns[0], 3000);
    conn.send(announcement("one") + announcement("two"));
    conn.send(`event: st2.actionalias__create\ndata: {"name":"x","pack":"p"}\n\n`);
    conn.send(announcement("three"));
    await waitFor("three announcements", () => seen.length === 3, 3000);
    expect(seen).toEqual(["one", "two", "three"]);
    expect(logs.text()).toContain("handler blew up");
    expect(s.state().state).toBe("open");
  });

  test("a handler that returns at once runs at once; one that waits holds the later events behind it", async () => {
    const fake = sseServer();
    cleanup(fake.stop);
    const started: string[] = [];
    const finished: string[] = [];
    const { s } = startStream(fake.stream, new ApiKeyProvider("stream-api-key-0012"), {
      onEvent: (e) => {
        const msg = (e.data as { payload: { message: string } }).payload.message;
        started.push(msg);
        if (msg === "sync-throws") throw new Error("sync handler blew up");
        if (msg !== "slow") return void finished.push(msg);
        return Bun.sleep(50).then(() => void finished.push(msg));
      },
    });
    const conn = await waitFor("a connection", () => fake.conns[0], 3000);
    conn.send(announcement("a") + announcement("sync-throws") + announcement("slow") + announcement("b") + announcement("c"));
    await waitFor("every event handled", () => finished.length === 4, 3000);
    // "b" and "c" started only after "slow" had finished: the order is the arrival order.
    expect(started).toEqual(["a", "sync-throws", "slow", "b", "c"]);
    expect(finished).toEqual(["a", "slow", "b", "c"]);
    expect(logs.text()).toContain("sync handler blew up");
    conn.send(announcement("after"));
    await waitFor("the next event", () => finished.length === 5, 3000);
    expect(s.state().state).toBe("open");
  });

  test("a malformed event is logged, truncated, and skipped", async () => {
    const fake = sseServer();
    cleanup(fake.stop);
    const { events } = startStream(fake.stream, new ApiKeyProvider("stream-api-key-0003"));
    const conn = await waitFor("a connection", () => fake.conns[0], 3000);
    conn.send(`event: st2.announcement__errbot\ndata: not json ${"x".repeat(500)}\n\n`);
    conn.send(`event: st2.announcement__errbot\ndata: {"message":"no payload"}\n\n`);
    conn.send(`event: st2.actionalias__update\ndata: [1,2]\n\n`);
    conn.send(announcement("good"));
    await waitFor("the good event", () => events.length === 1, 3000);
    expect(events[0]!.name).toBe("st2.announcement__errbot");
    const warnings = logs.lines.filter((l) => l.includes("skipped a malformed stream event"));
    expect(warnings.length).toBe(3);
    expect(warnings[0]).toContain("its data is not JSON");
    expect(warnings[0]!.length).toBeLessThan(500);
    expect(warnings[1]).toContain("no payload object");
  });

  test("heartbeats keep an otherwise quiet connection alive", async () => {
    const fake = sseServer();
    cleanup(fake.stop);
    const { connects } = startStream(fake.stream, new ApiKeyProvider("stream-api-key-0004"), { idleTimeoutMs: 500 });
    const conn = await waitFor("a connection", () => fake.conns[0], 3000);
    // Beats ten times as often as the idle limit, so a busy machine cannot fake a timeout.
    for (let i = 0; i < 16; i++) {
      await Bun.sleep(50);
      conn.send("\n");
    }
    expect(fake.conns.length).toBe(1);
    expect(connects()).toBe(1);
  });

  test("silence longer than idleTimeoutMs counts as a dead connection: reconnect and re-sync", async () => {
    // The fake greets with StackStorm's newline, then never sends a heartbeat.
    const fake = sseServer();
    cleanup(fake.stop);
    const { connects, states } = startStream(fake.stream, new ApiKeyProvider("stream-api-key-0005"), { idleTimeoutMs: 150 });
    await waitFor("a second connection", () => fake.conns.length >= 2, 3000);
    await waitFor("onConnect again", () => connects() >= 2, 3000);
    expect(states.find(([st]) => st === "reconnecting")![1]).toContain("no data from StackStorm");
  });

  test("a server that never answers the stream request is given up on after idleTimeoutMs", async () => {
    const fake = sseServer(undefined, false);
    cleanup(fake.stop);
    const { states, connects } = startStream(fake.stream, new ApiKeyProvider("stream-api-key-0010"), { idleTimeoutMs: 150 });
    await waitFor("a second attempt", () => fake.conns.length >= 2, 3000);
    expect(connects()).toBe(0);
    expect(states.find(([st]) => st === "reconnecting")![1]).toContain("did not answer within");
  });

  test("reconnects after a drop with growing backoff, and onConnect fires after every reconnection", async () => {
    const fake = sseServer();
    cleanup(fake.stop);
    const { delays, connects, events } = startStream(fake.stream, new ApiKeyProvider("stream-api-key-0006"));
    for (let i = 0; i < 4; i++) {
      const conn = await waitFor(`connection ${i}`, () => fake.conns[i], 3000);
      await waitFor(`onConnect ${i}`, () => connects() === i + 1, 3000);
      conn.close();
    }
    const conn = await waitFor("connection 4", () => fake.conns[4], 3000);
    conn.send(announcement("after the drops"));
    await waitFor("an event after reconnecting", () => events.length === 1, 3000);
    // Backoff(initial 40, ×1.75, cap 200, jitter pinned to the top).
    expect(delays()).toEqual([40, 70, 123, 200]);
    expect(connects()).toBe(5);
  });

  test("a connection that stays up resets the backoff", async () => {
    const fake = sseServer();
    cleanup(fake.stop);
    const { delays } = startStream(fake.stream, new ApiKeyProvider("stream-api-key-0007"), { healthyAfterMs: 100 });
    (await waitFor("connection 0", () => fake.conns[0], 3000)).close();
    const second = await waitFor("connection 1", () => fake.conns[1], 3000);
    await Bun.sleep(250);
    second.close();
    await waitFor("connection 2", () => fake.conns[2], 3000);
    expect(delays()).toEqual([40, 40]);
  });

  test("a 401 re-authenticates at once and reconnects without waiting", async () => {
    let valid = "";
    const fake = sseServer((req) =>
      req.headers.get("X-Auth-Token") === valid ? undefined : jsonResponse(401, { faultstring: "Unauthorized - Token has expired." }),
    );
    cleanup(fake.stop);
    let issued = 0;
    const provider = new PasswordProvider({
      username: "bot",
      password: "stream-password-1",
      ttlSeconds: 3600,
      issue: async () => {
        issued++;
        valid = `stream-token-${issued}-padding`;
        return { token: valid, expiry: new Date(Date.now() + 3_600_000) };
      },
    });
    const { connects, delays } = startStream(fake.stream, provider);
    await waitFor("first connection", () => connects() === 1, 3000);
    // StackStorm forgets the token; the current connection drops.
    valid = "nobody";
    fake.conns[0]!.close();
    await waitFor("connection with a renewed token", () => connects() === 2, 3000);
    expect(issued).toBe(2);
    expect(fake.conns[1]!.headers.get("X-Auth-Token")).toBe("stream-token-2-padding");
    // The drop itself backs off; the 401 that followed reconnects at once.
    expect(delays()).toEqual([40, 0]);
    expect(logs.text()).toContain("Unauthorized - Token has expired.");
    expect(logs.text()).not.toContain("stream-token-2-padding");
  });

  test("a static token refused with 401 keeps retrying with backoff and says it must be replaced", async () => {
    const fake = sseServer(() => jsonResponse(401, { faultstring: "Unauthorized - Invalid token" }));
    cleanup(fake.stop);
    const token = "static-stream-token-0001";
    const { delays, s } = startStream(fake.stream, new TokenProvider(token));
    await waitFor("three retries", () => delays().length >= 3, 3000);
    expect(delays().slice(0, 3)).toEqual([40, 70, 123]);
    expect(s.state().state).not.toBe("open");
    // The state carries why, for !status (app.ts reads it from here, not from onState).
    if (s.state().state === "reconnecting") expect(s.state().detail).toBeTruthy();
    expect(logs.text()).toContain("cannot renew a token");
    expect(logs.text()).not.toContain(token);
  });

  test("a provider whose renewal throws on a 401 does not end the reconnect loop", async () => {
    let refuse = true;
    const fake = sseServer(() => (refuse ? jsonResponse(401, { faultstring: "Unauthorized - Invalid token" }) : undefined));
    cleanup(fake.stop);
    const throwing: CredentialProvider = {
      renewable: true,
      header: async () => ({ "X-Auth-Token": "throwing-provider-token-01" }),
      onUnauthorized: async () => {
        throw new Error("the identity service is down");
      },
      describe: () => "test provider",
    };
    const { delays, connects } = startStream(fake.stream, throwing);
    await waitFor("two retries", () => delays().length >= 2, 3000);
    refuse = false;
    await waitFor("connected once StackStorm accepts the token", () => connects() === 1, 3000);
    expect(logs.text()).toContain("the identity service is down");
  });

  test("an unreachable StackStorm is retried until it comes back", async () => {
    const fake = sseServer();
    const port = new URL(fake.stream).port;
    fake.stop();
    const { delays, connects } = startStream(fake.stream, new ApiKeyProvider("stream-api-key-0008"));
    await waitFor("two retries", () => delays().length >= 2, 3000);
    const back = Bun.serve({
      port: Number(port),
      hostname: "127.0.0.1",
      idleTimeout: 0,
      fetch: () => new Response(new ReadableStream({ start: (c) => c.enqueue(enc.encode("\n")) }), { headers: { "Content-Type": "text/event-stream" } }),
    });
    cleanup(() => back.stop(true));
    await waitFor("connection once StackStorm is back", () => connects() === 1, 3000);
    expect(logs.text()).toContain("StackStorm unreachable at");
  });

  test("stop() closes the connection and leaves nothing scheduled", async () => {
    const fake = sseServer();
    cleanup(fake.stop);
    const { s, states } = startStream(fake.stream, new ApiKeyProvider("stream-api-key-0009"));
    await waitFor("open", () => s.state().state === "open", 3000);
    fake.conns[0]!.close();
    await waitFor("reconnecting", () => s.state().state === "reconnecting", 3000);
    await s.stop();
    expect(s.state().state).toBe("stopped");
    await Bun.sleep(150);
    expect(fake.conns.length).toBe(1);
    expect(states.at(-1)![0]).toBe("stopped");
  });
});
