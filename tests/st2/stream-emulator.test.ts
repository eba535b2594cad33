import { afterEach, describe, expect, test } from "bun:test";
import { assertNoViolations, startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import { St2Client } from "../../src/st2/client.ts";
import { MissingCredentialProvider, PasswordProvider } from "../../src/st2/credentials.ts";
import { St2Http } from "../../src/st2/http.ts";
import { parseEvent, streamEvents } from "../../src/st2/stream.ts";
import { captureLogs } from "./helpers.ts";
import { runCleanups, startStream } from "./stream-fixture.ts";
import { waitFor } from "../support/wait.ts";

let logs = captureLogs();
afterEach(async () => {
  await runCleanups();
  logs.restore();
  logs = captureLogs();
});

describe("parseEvent", () => {
  test("needs a name and a JSON object; announcements need a payload", () => {
    expect(parseEvent({ event: "st2.announcement__x", data: '{"payload":{"message":"m"}}', id: undefined })).toEqual({
      name: "st2.announcement__x",
      data: { payload: { message: "m" } },
    });
    expect(parseEvent({ event: undefined, data: "{}", id: undefined })).toBeUndefined();
    expect(parseEvent({ event: "st2.announcement__x", data: '{"payload":"text"}', id: undefined })).toBeUndefined();
    expect(parseEvent({ event: "st2.execution__update", data: "null", id: undefined })).toBeUndefined();
  });

  test("streamEvents never repeats a name", () => {
    expect(streamEvents("chatops", ["st2.actionalias__create"])).toHaveLength(4);
  });
});

describe("St2Stream against the StackStorm emulator", () => {
  const PASSWORD = "stream-emulated-Passw0rd";
  const emulators: TestEmulator[] = [];
  afterEach(async () => {
    while (emulators.length) {
      const emu = emulators.pop()!;
      await emu.stop();
      assertNoViolations(emu);
    }
  });
  async function emulated(opts: Parameters<typeof startTestEmulator>[0] = {}) {
    const emu = await startTestEmulator({ users: { bot: PASSWORD }, ...opts });
    emulators.push(emu);
    const client = new St2Client({
      http: new St2Http({ timeoutMs: 2_000 }),
      urls: { api: emu.apiUrl, auth: emu.authUrl, stream: emu.streamUrl },
      provider: new MissingCredentialProvider(),
    });
    const provider = new PasswordProvider({
      username: "bot",
      password: PASSWORD,
      ttlSeconds: 600,
      issue: async (u, p, ttl) => {
        const t = await client.createToken(u, p, ttl);
        return { token: t.token, expiry: new Date(t.expiry) };
      },
    });
    return { emu, provider };
  }

  test("announcements and alias changes arrive; StackStorm's heartbeats keep the connection", async () => {
    const { emu, provider } = await emulated({ heartbeatMs: 40 });
    const { events, connects } = startStream(emu.streamUrl, provider, { idleTimeoutMs: 500 });
    await waitFor("connected", () => connects() === 1 && emu.streamCount === 1, 3000);
    emu.announce("errbot", { message: "done", channel: "#ops", user: "alice" });
    emu.announce("hubot", { message: "not for us" });
    emu.addAlias({ name: "deploy", pack: "ops", action_ref: "core.local", formats: ["deploy {{app}}"] });
    await waitFor("two events", () => events.length === 2, 3000);
    expect(events.map((e) => e.name)).toEqual(["st2.announcement__errbot", "st2.actionalias__create"]);
    expect((events[0]!.data as { payload: { message: string } }).payload.message).toBe("done");
    await Bun.sleep(800);
    expect(connects()).toBe(1);
  });

  test("dropped streams reconnect with backoff and onConnect fires each time", async () => {
    const { emu, provider } = await emulated();
    const { connects, delays, events } = startStream(emu.streamUrl, provider);
    for (let i = 1; i <= 3; i++) {
      await waitFor(`connection ${i}`, () => connects() === i && emu.streamCount === 1, 3000);
      emu.faults.dropStreams();
    }
    await waitFor("connection 4", () => connects() === 4 && emu.streamCount === 1, 3000);
    emu.announce("errbot", { message: "still here" });
    await waitFor("an event after reconnecting", () => events.length === 1, 3000);
    expect(delays()).toEqual([40, 70, 123]);
  });

  test("expired tokens: the reconnection's 401 renews the token and reconnects at once", async () => {
    const { emu, provider } = await emulated();
    const { connects, delays } = startStream(emu.streamUrl, provider);
    await waitFor("connected", () => connects() === 1, 3000);
    emu.faults.expireTokens();
    emu.faults.dropStreams();
    await waitFor("reconnected with a new token", () => connects() === 2, 3000);
    expect(emu.tokens).toHaveLength(2);
    expect(delays()).toEqual([40, 0]);
    const streams = emu.requests.filter((r) => r.path === "/stream/v1/stream");
    expect(streams.map((r) => r.status)).toEqual([200, 401, 200]);
    expect(logs.text()).not.toContain(emu.tokens[1]!.token);
    expect(logs.text()).not.toContain(PASSWORD);
  });

  test("garbage on the stream is skipped and later events still arrive", async () => {
    const { emu, provider } = await emulated();
    const { events, connects } = startStream(emu.streamUrl, provider);
    await waitFor("connected", () => connects() === 1 && emu.streamCount === 1, 3000);
    emu.faults.streamGarbage("event: st2.announcement__errbot\ndata: {broken json\n\n");
    emu.faults.streamGarbage("data: no event name\n\n");
    emu.announce("errbot", { message: "fine" });
    await waitFor("the good event", () => events.length === 1, 3000);
    expect(logs.lines.filter((l) => l.includes("skipped a malformed stream event"))).toHaveLength(2);
    expect(connects()).toBe(1);
  });

  test("no heartbeat for idleTimeoutMs: the connection is treated as dead and replaced", async () => {
    const { emu, provider } = await emulated({ heartbeatMs: 60_000 });
    const { connects, states } = startStream(emu.streamUrl, provider, { idleTimeoutMs: 150 });
    await waitFor("a reconnection", () => connects() >= 2, 3000);
    expect(states.find(([s]) => s === "reconnecting")![1]).toContain("no data from StackStorm for 150 ms");
  });

  test("StackStorm down and back: retried with backoff until it answers", async () => {
    const { emu, provider } = await emulated();
    const { connects, delays } = startStream(emu.streamUrl, provider);
    await waitFor("connected", () => connects() === 1, 3000);
    await emu.faults.down(true);
    await waitFor("retries while down", () => delays().length >= 3, 3000);
    await emu.faults.down(false);
    await waitFor("reconnected", () => connects() === 2, 3000);
  });
});
