/**
 * `st2bot doctor`'s Rocket.Chat probe (src/chat/rocketchat/probe.ts) against
 * tests/emulators/rocketchat.ts: REST (`/api/v1/me`, by token or after a login that is logged
 * out again) and the realtime API's login and subscription.
 */
import { afterAll, expect, test } from "bun:test";
import { probeRocketChat } from "../../src/chat/rocketchat/probe.ts";
import { BACKEND_SECTIONS, backendNamed } from "../../src/chat/registry.ts";
import { parseConfig } from "../../src/config/load.ts";
import { startRocketChatEmulator } from "../emulators/rocketchat.ts";

const BOT_TOKEN = "pat-RC-probe-9Zx4Qm2Lw7Vt3Nc8Hk";
const BOT_PASSWORD = "rc-probe-password-Secret-17";
const emu = startRocketChatEmulator({
  users: [{ username: "st2bot", id: "BotUserId00000001", token: BOT_TOKEN, password: BOT_PASSWORD }],
  rooms: [{ name: "ops", members: ["st2bot"] }],
});
afterAll(() => emu.stop());

const configFor = (lines: string, url = emu.url) => parseConfig(`[rocketchat]\nurl = "${url}"\n${lines}`, "test.toml", {}, BACKEND_SECTIONS);
const byToken = (token = BOT_TOKEN) => configFor(`user_id = "BotUserId00000001"\ntoken = "${token}"`);
const ws = () => `${emu.url.replace(/^http/, "ws")}/websocket`;

test("a valid token: REST accepts the bot and the realtime API logs it in and subscribes", async () => {
  expect(await backendNamed("rocketchat")!.probe!(byToken())).toEqual([
    { verdict: "ok", what: `Rocket.Chat: ${emu.url} accepts the bot as @st2bot (personal access token)` },
    { verdict: "ok", what: `Rocket.Chat: the realtime API ${ws()} logs the bot in and streams its rooms' messages` },
  ]);
});

test("a password login works the same and its throwaway login token is logged out", async () => {
  const checks = await probeRocketChat(configFor(`user = "st2bot"\npassword = "${BOT_PASSWORD}"`));
  expect(checks.map((c) => c.verdict)).toEqual(["ok", "ok"]);
  expect(emu.requests.at(-1)).toBe("POST /api/v1/logout");
  expect(emu.sessions.size).toBe(0);
});

test("refused credentials are one fail saying which settings to check, without the secret", async () => {
  const token = await probeRocketChat(byToken("pat-RC-probe-wrong-token"));
  expect(token).toEqual([{ verdict: "fail", what: `Rocket.Chat: ${emu.url} refused the bot's personal access token`, fix: expect.stringContaining("rocketchat.user_id and token") }]);
  const login = await probeRocketChat(configFor(`user = "st2bot"\npassword = "rc-probe-wrong-password"`));
  expect(login).toEqual([{ verdict: "fail", what: `Rocket.Chat: ${emu.url} refused the bot's login`, fix: "check rocketchat.user and password" }]);
  expect(JSON.stringify([token, login])).not.toMatch(/wrong-token|wrong-password/);
});

test("a realtime API that refuses the token, and an unreachable server, are each a fail saying what to do", async () => {
  emu.refuseResume = true;
  try {
    const [, rt] = await probeRocketChat(byToken());
    expect(rt).toMatchObject({ verdict: "fail", what: expect.stringContaining(`the realtime API ${ws()} refused the bot's token`) });
  } finally {
    emu.refuseResume = false;
  }
  const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const dead = `http://127.0.0.1:${closed.port}`;
  closed.stop(true);
  const [down] = await probeRocketChat(configFor(`user_id = "BotUserId00000001"\ntoken = "${BOT_TOKEN}"`, dead));
  expect(down).toMatchObject({ verdict: "fail", what: expect.stringContaining(`cannot reach ${dead}`), fix: expect.stringContaining("rocketchat.url") });
});
