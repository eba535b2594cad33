import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import { openStream } from "./sse.ts";

let st2: TestEmulator;
let auth: Record<string, string>;

beforeAll(async () => {
  st2 = await startTestEmulator({ aliases: sampleAliases, actions: sampleActions });
  auth = { "X-Auth-Token": st2.createToken("st2admin").token };
});
afterEach(() => st2.faults.reset());
afterAll(() => st2.stop());

const list = () => fetch(`${st2.apiUrl}/actionalias?limit=1`, { headers: auth });

describe("faults", () => {
  test("failNext answers the next N requests with the given status and faultstring", async () => {
    st2.faults.failNext(2, { status: 503, faultstring: "Service Unavailable" });
    for (let i = 0; i < 2; i++) {
      const res = await list();
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ faultstring: "Service Unavailable" });
    }
    expect((await list()).status).toBe(200);
  });

  test("failNext can target a path prefix", async () => {
    st2.faults.failNext(1, { pathPrefix: "/auth/" });
    expect((await list()).status).toBe(200);
    const res = await fetch(`${st2.authUrl}/tokens`, { method: "POST" });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ faultstring: "Internal Server Error" });
  });

  test("stall delays answers until cleared", async () => {
    st2.faults.stall(150, { count: 1 });
    const started = performance.now();
    const stalled = await list();
    expect(stalled.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    // A client with a short timeout gives up on a stalled request.
    st2.faults.stall(5000);
    await expect(fetch(`${st2.apiUrl}/actionalias`, { headers: auth, signal: AbortSignal.timeout(50) })).rejects.toThrow();
  });

  test("expireTokens turns every issued token into a 401", async () => {
    const token = st2.createToken("st2admin").token;
    st2.faults.expireTokens();
    const res = await fetch(`${st2.apiUrl}/user`, { headers: { "X-Auth-Token": token } });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ faultstring: "Unauthorized - Token has expired." });
    auth = { "X-Auth-Token": st2.createToken("st2admin").token };
  });

  test("dropStreams ends open streams; streamGarbage writes raw bytes", async () => {
    const stream = await openStream(`${st2.streamUrl}/stream`, auth);
    await stream.until((t) => t.startsWith("\n"));
    st2.faults.streamGarbage("event: st2.announcement__errbot\ndata: {not json\n\n");
    await stream.until((t) => t.includes("{not json"));
    expect(st2.streamCount).toBe(1);
    st2.faults.dropStreams();
    await stream.ended;
    expect(st2.streamCount).toBe(0);
  });

  test("down refuses connections; up listens again on the same port", async () => {
    const stream = await openStream(`${st2.streamUrl}/stream`, auth);
    await st2.faults.down(true);
    await stream.ended;
    await expect(list()).rejects.toThrow();
    await st2.faults.down(false);
    expect((await list()).status).toBe(200);
    expect(new URL(st2.url).port).toBe(String(st2.port));
  });
});
