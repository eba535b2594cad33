/**
 * `st2bot doctor`'s IRC probe (src/chat/irc/probe.ts) against a real ngircd on loopback (channel
 * keys, +i, +b, no NickServ) and tests/emulators/irc.ts for what ngircd cannot show (SASL, a
 * refused server password). A person holding the bot's nick stands for a bot already running.
 */
import { afterAll, expect, test } from "bun:test";
import * as v from "valibot";
import { ConfigSchema } from "../../src/config/schema.ts";
import { probeIrc } from "../../src/chat/irc/probe.ts";
import { backendNamed } from "../../src/chat/registry.ts";
import { type Ngircd, NgircdNotInstalledError, startNgircd } from "../../scripts/ngircd.ts";
import { startIrcEmulator } from "../emulators/irc.ts";
import { IrcPerson } from "../support/irc-person.ts";

let server: Ngircd | undefined;
let skipReason: string | undefined;
try {
  server = await startNgircd({ keyedChannels: { "#secret": "k3y", "#vault": "v4ult" } });
} catch (err) {
  if (!(err instanceof NgircdNotInstalledError)) throw err;
  skipReason = err.message;
}
afterAll(async () => server?.stop(), 20_000);

function config(port: number, section: Record<string, unknown>) {
  return { ...v.parse(ConfigSchema, {}), irc: { server: "127.0.0.1", port, tls: false, nick: "st2bot", ...section } };
}

if (skipReason) {
  console.error(`\n!! IRC PROBE TESTS SKIPPED: ${skipReason}\n`);
  if (process.env.CI) test("ngircd is installed for the IRC probe tests", () => expect(skipReason).toBeUndefined());
  else test.skip(`the IRC probe (${skipReason})`, () => undefined);
} else {
  test("joins each channel with its key and names each refusal (475, 473, 474) without disturbing the running bot", async () => {
    const bot = await IrcPerson.connect(server!.port, "st2bot"); // the running bot, holding the nick
    await bot.join("#locked");
    bot.write("MODE #locked +i");
    await bot.join("#banned");
    bot.write("MODE #banned +b *!*@*");
    await Bun.sleep(200);
    const channels = ["#ops", { name: "#secret", key: "k3y" }, { name: "#vault", key: "wrong" }, "#locked", "#banned"];
    // Through the registry line doctor uses.
    const checks = await backendNamed("irc")!.probe!(config(server!.port, { channels }));
    expect(checks[0]).toMatchObject({ verdict: "ok", what: expect.stringMatching(/registered the doctor as st2bo-doc/) });
    expect(checks.slice(1)).toEqual([
      { verdict: "ok", what: "IRC: the bot can join #ops" },
      { verdict: "ok", what: "IRC: the bot can join #secret" },
      { verdict: "fail", what: "IRC: cannot join #vault: 475 wrong channel key (+k): check irc.channels", fix: "the key of #vault in irc.channels is wrong: ask a channel operator for it" },
      { verdict: "fail", what: "IRC: cannot join #locked: 473 the channel is invite only (+i)", fix: expect.stringContaining("invite the bot") },
      { verdict: "fail", what: "IRC: cannot join #banned: 474 the bot is banned (+b)", fix: expect.stringContaining("lift the ban") },
    ]);
    // The bot kept its nick and its channels; the doctor is gone (#ops is empty when the bot joins it).
    expect(bot.received.some((l) => l.command === "NICK" || l.command === "KILL" || l.command === "ERROR")).toBe(false);
    expect(bot.joined.has("#locked") && bot.joined.has("#banned")).toBe(true);
    await bot.join("#ops");
    expect(bot.received.filter((l) => l.command === "JOIN" && l.params[0] === "#ops").map((l) => l.nick)).toEqual(["st2bot"]);
    await bot.close();
  }, 30_000);

  test("a key missing from irc.channels is a 475 that says to set it", async () => {
    const [, secret] = await probeIrc(config(server!.port, { channels: ["#secret"] }));
    expect(secret).toMatchObject({ verdict: "fail", what: expect.stringContaining("cannot join #secret: 475"), fix: 'the channel has a key: set { name = "#secret", key = "..." } in irc.channels' });
  }, 20_000);

  test("irc.nickserv_password on a server without NickServ is a fail that says to remove it", async () => {
    const checks = await probeIrc(config(server!.port, { nickserv_password: "ns-pass-irc-probe-1" }));
    expect(checks[0]!.verdict).toBe("ok");
    expect(checks[1]).toMatchObject({ verdict: "fail", what: "IRC: the server has no NickServ", fix: expect.stringContaining("remove irc.nickserv_password") });
    expect(JSON.stringify(checks)).not.toContain("ns-pass-irc-probe-1");
  }, 20_000);
}

test("SASL: a refused login says what to fix, an accepted one is reported, and the probe QUITs", async () => {
  const emu = startIrcEmulator({ sasl: { account: "st2bot", password: "sasl-good-irc-probe" } });
  try {
    const refused = await probeIrc(config(emu.port, { sasl_password: "sasl-bad-irc-probe" }));
    expect(refused).toEqual([{ verdict: "fail", what: expect.stringContaining(`127.0.0.1:${emu.port} refused the SASL login of st2bot`), fix: "check irc.sasl_account and irc.sasl_password" }]);
    expect(JSON.stringify(refused)).not.toContain("sasl-bad-irc-probe");
    const [ok] = await probeIrc(config(emu.port, { sasl_password: "sasl-good-irc-probe" }));
    expect(ok).toEqual({ verdict: "ok", what: `IRC: 127.0.0.1:${emu.port} registered the doctor as st2bot-doctor, logged in with SASL as st2bot` });
    expect(emu.lines).toContain("NICK st2bot-doctor");
    expect(emu.lines.at(-1)).toMatch(/^QUIT/);
  } finally {
    emu.stop();
  }
});

test("a refused server password, a closed port and a silent server are each a fail saying what to fix", async () => {
  const emu = startIrcEmulator({ password: "pass-good-irc-probe" });
  const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const closed = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const closedPort = closed.port;
  closed.stop(true);
  try {
    expect(await probeIrc(config(emu.port, { server_password: "pass-bad-irc-probe" }))).toEqual([
      { verdict: "fail", what: `IRC: 127.0.0.1:${emu.port} refused the server password`, fix: "check irc.server_password" },
    ]);
    const [down] = await probeIrc(config(closedPort, {}));
    expect(down).toMatchObject({ verdict: "fail", what: expect.stringContaining(`cannot connect to 127.0.0.1:${closedPort}`), fix: expect.stringContaining("irc.port") });
    const started = Date.now();
    const [mute] = await probeIrc(config(silent.port, {}), { timeoutMs: 600 });
    expect(mute).toMatchObject({ verdict: "fail", what: expect.stringContaining("did not finish registering the doctor"), fix: expect.stringContaining("irc.tls") });
    expect(Date.now() - started).toBeLessThan(5_000);
  } finally {
    emu.stop();
    silent.stop(true);
  }
});
