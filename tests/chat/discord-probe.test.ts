/**
 * `st2bot doctor`'s Discord probe (src/chat/discord/probe.ts) against tests/emulators/discord.ts:
 * the token (`GET /users/@me`), the gateway (`GET /gateway/bot` and its WebSocket's HELLO, with
 * no IDENTIFY spent) and `discord.guild`.
 */
import { afterAll, expect, test } from "bun:test";
import { probeDiscord } from "../../src/chat/discord/probe.ts";
import { BACKEND_SECTIONS, backendNamed } from "../../src/chat/registry.ts";
import { parseConfig } from "../../src/config/load.ts";
import { startDiscordEmulator } from "../emulators/discord.ts";

const TOKEN = "MTE4MDAwMDAwMDAwMDAwMDAwMA.Gx1234.discord-probe-token-abcdef";
const emu = startDiscordEmulator({ token: TOKEN });
afterAll(() => emu.stop());

const configFor = (lines: string, api = emu.apiUrl) => parseConfig(`[discord]\napi_url = "${api}"\n${lines}`, "test.toml", {}, BACKEND_SECTIONS);

test("a valid token: the bot's name, the gateway's HELLO and the configured server, without an IDENTIFY", async () => {
  const checks = await backendNamed("discord")!.probe!(configFor(`token = "${TOKEN}"\nguild = "${emu.guild.id}"`));
  expect(checks).toEqual([
    { verdict: "ok", what: `Discord: the token belongs to the bot st2bot (<@${emu.bot.id}>)` },
    { verdict: "ok", what: `Discord: the gateway ws://127.0.0.1:${new URL(emu.url).port}/gateway answers (999 of 1000 session starts left today)` },
    { verdict: "ok", what: "Discord: the bot is in the server st2 (discord.guild)" },
  ]);
  expect(emu.stats.gatewayConnections).toBeGreaterThan(0);
  expect(emu.stats.identifies).toBe(0);
});

test("a refused token (401) is one fail saying how to get a new one, without the token", async () => {
  const checks = await probeDiscord(configFor(`token = "${TOKEN}-wrong"`));
  expect(checks).toEqual([{ verdict: "fail", what: `Discord: ${emu.apiUrl} refused the bot token (401 on GET /users/@me)`, fix: expect.stringContaining("Reset Token") }]);
  expect(JSON.stringify(checks)).not.toContain("discord-probe-token");
});

test("a server the bot is not in is a fail naming discord.guild", async () => {
  const [, , guild] = await probeDiscord(configFor(`token = "${TOKEN}"\nguild = "123456789012345678"`));
  expect(guild).toEqual({ verdict: "fail", what: "Discord: the bot cannot see the server 123456789012345678 (HTTP 404)", fix: expect.stringContaining("invite the bot") });
});

test("an unreachable gateway and an unreachable API are each a fail saying what to check", async () => {
  const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const deadPort = closed.port;
  closed.stop(true);
  // The real emulator, with the gateway URL it hands out pointed at a closed port.
  const deadGateway: typeof fetch = Object.assign(async (input: RequestInfo | URL, init?: RequestInit) => {
    const res = await fetch(input, init);
    if (!String(input).endsWith("/gateway/bot")) return res;
    return Response.json({ ...(await res.json()), url: `ws://127.0.0.1:${deadPort}/gateway` });
  }, { preconnect: fetch.preconnect });
  const [, gw] = await probeDiscord(configFor(`token = "${TOKEN}"`), deadGateway);
  expect(gw).toMatchObject({ verdict: "fail", what: expect.stringContaining(`the gateway ws://127.0.0.1:${deadPort}/gateway is not reachable`), fix: expect.stringContaining("WebSocket") });
  const [down] = await probeDiscord(configFor(`token = "${TOKEN}"`, `http://127.0.0.1:${deadPort}/api`));
  expect(down).toMatchObject({ verdict: "fail", what: expect.stringContaining(`cannot reach http://127.0.0.1:${deadPort}/api`), fix: expect.stringContaining("discord.api_url") });
});
