/**
 * The Matrix backend's doctor checks and message details (a stale sync position, garbage from
 * /sync, matrix.to links, ...) against the wire-level homeserver emulator.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Message } from "../../src/chat/types.ts";
import { parseConfig } from "../../src/config/load.ts";
import { BACKEND_SECTIONS } from "../../src/chat/registry.ts";
import type { MatrixEmulator } from "../emulators/matrix/index.ts";
import { waitFor } from "../support/wait.ts";
import { tempDirs } from "../support/tmp.ts";
import { BOT_TOKEN, BOT_PASSWORD, emulator, backendsIn } from "./matrix-fixture.ts";

const tmp = tempDirs();
const backendFor = backendsIn(tmp);

describe("st2bot doctor on Matrix", () => {
  let emu: MatrixEmulator;
  beforeAll(() => {
    emu = emulator();
  });
  afterAll(() => emu.stop());

  const configFor = (matrixToml: string) => parseConfig(`[bot]\nbackend = "matrix"\n[matrix]\nhomeserver = "${emu.url}"\n${matrixToml}`, "t.toml", {}, BACKEND_SECTIONS);

  test("logs in, joins each configured room, and fails the encrypted or closed ones", async () => {
    const { probeMatrix } = await import("../../src/chat/matrix/probe.ts");
    const checks = await probeMatrix(configFor(`access_token = "${BOT_TOKEN}"\nrooms = ["#ops:emu.test", "#lobby:emu.test", "#private:emu.test", "#secret:emu.test", "#gone:emu.test"]`));
    expect(checks.map((c) => `${c.verdict} ${c.what}`)).toEqual([
      "ok Matrix: " + emu.url + " accepts the bot as @st2bot:emu.test",
      "ok Matrix: the bot is in #ops:emu.test",
      "ok Matrix: the bot is in #lobby:emu.test",
      "fail Matrix: cannot join #private:emu.test: POST /join: 403 M_FORBIDDEN: You are not invited to this room.",
      "fail Matrix: #secret:emu.test is end-to-end encrypted, which st2bot does not support",
      "fail Matrix: cannot join #gone:emu.test: POST /join: 404 M_NOT_FOUND: No known servers",
    ]);
  });

  test("refused credentials, an unreachable server, and a password login that leaves no device behind", async () => {
    const { probeMatrix } = await import("../../src/chat/matrix/probe.ts");
    const [refused] = await probeMatrix(configFor(`access_token = "syt_wrong_token_31337"`));
    expect(refused).toMatchObject({ verdict: "fail", what: expect.stringContaining("refused the bot's credentials") });
    expect(String(refused!.what).includes("syt_wrong_token_31337")).toBe(false);
    const away = parseConfig(`[matrix]\nhomeserver = "http://127.0.0.1:1"\naccess_token = "x"`, "t.toml", {}, BACKEND_SECTIONS);
    expect((await probeMatrix(away))[0]).toMatchObject({ verdict: "fail", what: expect.stringContaining("cannot reach http://127.0.0.1:1") });
    const devices = emu.devices().length;
    const checks = await probeMatrix(configFor(`user_id = "@st2bot:emu.test"\npassword = "${BOT_PASSWORD}"`));
    expect(checks[0]).toMatchObject({ verdict: "ok" });
    expect(emu.devices().length).toBe(devices);
  });

  test("runDoctor prints the live Matrix checks", async () => {
    const { runDoctor } = await import("../../src/cli/doctor.ts");
    let out = "";
    const dataDir = tmp("matrix-doctor");
    const cfg = parseConfig(`[bot]\nbackend = "matrix"\ndata_dir = "${dataDir}"\n[stackstorm]\napi_url = "http://127.0.0.1:1/api/v1"\n[stackstorm.api_auth]\napikey = "k-123456"\n[matrix]\nhomeserver = "${emu.url}"\naccess_token = "${BOT_TOKEN}"\nrooms = ["#private:emu.test"]\n`, "c.toml", {}, BACKEND_SECTIONS);
    await runDoctor(cfg, { stdout: (s) => void (out += s) });
    expect(out).toContain('✓ chat backend "matrix" is configured');
    expect(out).toContain("✓ Matrix: " + emu.url + " accepts the bot as @st2bot:emu.test");
    expect(out).toContain("✗ Matrix: cannot join #private:emu.test");
    expect(out).not.toContain(BOT_TOKEN);
  });
});

describe("matrix message details", () => {
  test("a reply's quoted fallback is not part of the command; edits, emotes and notices are not commands", async () => {
    const { toMessage, identityOf, stripReplyFallback } = await import("../../src/chat/matrix/events.ts");
    const place = { roomId: "!r:emu.test", roomName: "#ops:emu.test", direct: false };
    const ev = (content: Record<string, unknown>) => ({ type: "m.room.message", sender: "@alice:emu.test", content });
    const reply = toMessage(
      ev({ msgtype: "m.text", body: "> <@bob:emu.test> the web tier is slow\n> really\n\n!st2 run uptime", "m.relates_to": { "m.in_reply_to": { event_id: "$x" } } }),
      place, identityOf("@alice:emu.test"), "@st2bot:emu.test", ["st2bot"],
    );
    expect(reply?.text).toBe("!st2 run uptime");
    expect(stripReplyFallback("> quoted but no blank line\n!st2 x")).toBe("> quoted but no blank line\n!st2 x");
    for (const content of [
      { msgtype: "m.text", body: "* !st2 run uptime", "m.new_content": { msgtype: "m.text", body: "!st2 run uptime" }, "m.relates_to": { rel_type: "m.replace", event_id: "$x" } },
      { msgtype: "m.emote", body: "!st2 run uptime" },
      { msgtype: "m.notice", body: "!st2 run uptime" },
    ]) {
      expect(toMessage(ev(content), place, identityOf("@alice:emu.test"), "@st2bot:emu.test", ["st2bot"])).toBeUndefined();
    }
  });

  test("a stale stored sync position is dropped with a warning, not retried forever", async () => {
    const emu = emulator();
    const dataDir = tmp("matrix-stale");
    const stateFile = join(dataDir, "matrix-sync.json");
    await Bun.write(stateFile, JSON.stringify({ user_id: "@st2bot:emu.test", homeserver: emu.url, next_batch: "not-a-position" }));
    const b = backendFor(emu, "", { stateFile });
    const inbox: Message[] = [];
    await b.start((m) => void inbox.push(m));
    expect(b.status().state).toBe("connected");
    emu.say("alice", "#ops:emu.test", "!st2 after the reset");
    await waitFor("a message", () => inbox.find((m) => m.text.includes("after the reset")));
    await b.stop();
    await emu.stop();
  });

  test("garbage from /sync is retried with backoff, not in a hot loop", async () => {
    const emu = emulator();
    const b = backendFor(emu);
    const inbox: Message[] = [];
    await b.start((m) => void inbox.push(m));
    emu.garbledSyncs = 8;
    emu.say("alice", "#ops:emu.test", "!st2 wake the long-poll");
    await Bun.sleep(300);
    expect(emu.garbledSyncs).toBeGreaterThan(0); // a hot loop would have used all 8 at once
    emu.say("alice", "#ops:emu.test", "!st2 after the garbage");
    await waitFor("a message", () => inbox.find((m) => m.text.includes("after the garbage")), 8_000);
    await b.stop();
    await emu.stop();
  }, 15_000);

  test("matrix.to links name the same room or person", async () => {
    const emu = emulator();
    const b = backendFor(emu);
    await b.start(() => {});
    expect(await b.resolve("channel", "https://matrix.to/#/%23ops%3Aemu.test?via=emu.test")).toMatchObject({ kind: "room", id: emu.room("#ops:emu.test").id });
    expect(await b.resolve("user", "https://matrix.to/#/@alice:emu.test")).toEqual({ kind: "user", id: "@alice:emu.test" });
    await b.stop();
    await emu.stop();
  });
});
