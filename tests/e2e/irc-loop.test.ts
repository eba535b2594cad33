/**
 * The ChatOps loop through the real IRC backend (`[bot] backend = "irc"`) against a real ngircd
 * on loopback: a person (raw socket) talks in #ops and privately → st2bot → POST /aliasexecution
 * on the StackStorm emulator (spec-checked) → ack and result back as PRIVMSGs, a burst of 500
 * results without a flood kill, and an ngircd restart mid-session.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Ngircd, NgircdNotInstalledError, startNgircd } from "../../scripts/ngircd.ts";
import { assertNoViolations } from "../support/emulator.ts";
import { type IrcLine, IrcPerson } from "../support/irc-person.ts";
import { completed, type LoopHarness, startLoop, taker } from "./backend-loop.ts";
import { waitFor } from "../support/wait.ts";

const text = (l: IrcLine) => l.params[1] ?? "";
const plain = (s: string) => s.replace(/\x03(?:\d{1,2}(?:,\d{1,2})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f]/g, "");
const fromBot = (l: IrcLine) => l.command === "PRIVMSG" && l.nick === "st2bot";
const inOps = (l: IrcLine) => fromBot(l) && l.params[0] === "#ops";
const toAlice = (l: IrcLine) => fromBot(l) && l.params[0] === "alice";

let server: Ngircd | undefined;
let skipReason: string | undefined;
try {
  server = await startNgircd();
} catch (err) {
  if (!(err instanceof NgircdNotInstalledError)) throw err;
  skipReason = err.message;
}

if (skipReason) {
  console.error(`\n!! IRC LOOP TESTS SKIPPED: ${skipReason}\n`);
  if (process.env.CI) test("ngircd is installed for the IRC loop tests", () => expect(skipReason).toBeUndefined());
  else test.skip(`the ChatOps loop on IRC (${skipReason})`, () => undefined);
} else {
  describe("the ChatOps loop on IRC", () => {
    const irc = server!;
    let alice: IrcPerson;
    let h: LoopHarness;
    let got: ReturnType<typeof taker<IrcLine>>;

    beforeAll(async () => {
      alice = await IrcPerson.connect(irc.port, "alice");
      await alice.join("#ops");
      h = await startLoop("irc", `[irc]\nserver = "127.0.0.1"\nport = ${irc.port}\ntls = false\nchannels = ["#ops"]`, { completionDelayMs: 150 });
      got = taker(() => alice.received, (l) => l.raw);
      await waitFor("st2bot in #ops", () => alice.received.some((l) => l.command === "JOIN" && l.nick === "st2bot"));
    }, 30_000);
    afterAll(async () => {
      await h?.stop();
      await alice?.close();
      await irc.stop();
      if (h) assertNoViolations(h.st2);
    }, 20_000);

    const run = async (send: () => void, what: string) => {
      const n = h.st2.executions.length;
      send();
      return h.execution(n, `POST /aliasexecution for ${what}`);
    };

    test("a channel command runs as the nick from #channel; ack and result come back to the channel", async () => {
      const exec = await run(() => alice.say("#ops", "!st2 run uptime on web1"), "the channel command");
      expect(exec.parameters).toMatchObject({ cmd: "uptime", hosts: "web1" });
      expect(exec.apiUser).toBe("alice");
      expect(exec.sourceChannel).toBe("#ops");
      expect(exec.sourceContext).toMatchObject({ backend: "irc", user: "alice", user_id: "alice!~alice@127.0.0.1" });
      const ack = await got.next(inOps, "the ack in #ops");
      expect(text(ack)).toBe(`Running \`uptime\` on web1... (details available at ${h.st2.url}/#/history/${exec.id}/general)`);
      // One IRC line per line of the result, in order.
      const result = await got.next((l) => inOps(l) && text(l).includes("completed"), "the result in #ops");
      expect(text(result)).toContain(completed("core.remote"));
      await got.next((l) => inOps(l) && text(l).includes(`execution: ${exec.id}`), "the result's execution line");
    });

    test("a private message runs as the nick with the nick as source_channel and is answered privately", async () => {
      const exec = await run(() => alice.say("st2bot", "!st2 packs list"), "the private command");
      expect(exec.apiUser).toBe("alice");
      expect(exec.sourceChannel).toBe("alice");
      expect(text(await got.next(toAlice, "the private ack"))).toStartWith("Looking up your packs...");
      await got.next((l) => toAlice(l) && text(l).includes("completed"), "the private result");
    });

    test("a whisper reaches the person privately, by nick or by err-stackstorm's legacy mask", async () => {
      h.st2.announce("errbot", { message: "psst, only for alice", user: "alice", channel: "#ops", whisper: true });
      expect((await got.next((l) => text(l) === "psst, only for alice", "the whisper")).params[0]).toBe("alice");
      h.st2.announce("errbot", { message: "psst, legacy", user: "alice!~alice@127.0.0.1", whisper: true });
      expect((await got.next((l) => text(l) === "psst, legacy", "the legacy whisper")).params[0]).toBe("alice");
    });

    test("a result with extra.color arrives in the nearest IRC colour, plain text intact", async () => {
      await run(() => alice.say("#ops", "!st2 status of nginx"), "status of nginx");
      await got.next((l) => inOps(l) && text(l).startsWith("Checking nginx..."), "the ack");
      const result = await got.next((l) => inOps(l) && plain(text(l)).startsWith("nginx is running"), "the rich result");
      // #2eb886 (Slack's "good") is nearest mIRC colour 10 (teal).
      expect(text(result)).toMatch(/^\x0310nginx is running since \S/);
    });

    test("both mention forms address the bot: `st2bot: cmd` and `st2bot, cmd`", async () => {
      const a = await run(() => alice.say("#ops", "st2bot: st2 run uptime on web3"), "the colon mention");
      expect(a.parameters).toMatchObject({ hosts: "web3" });
      const b = await run(() => alice.say("#ops", "st2bot, st2 run uptime on web4"), "the comma mention");
      expect(b.parameters).toMatchObject({ hosts: "web4" });
      got.skipAll();
    });

    test("a burst of 500 results arrives whole and in order, without a flood kill", async () => {
      got.skipAll();
      const n = alice.received.length;
      const t0 = performance.now();
      for (let i = 0; i < 500; i++) h.st2.announce("errbot", { message: `burst ${i}`, channel: "#ops" });
      const lines = await waitFor(
        "500 burst lines",
        () => {
          const l = alice.received.slice(n).filter((x) => inOps(x) && text(x).startsWith("burst "));
          return l.length >= 500 ? l : undefined;
        },
        110_000,
      );
      const ms = performance.now() - t0;
      // Arrived is not yet confirmed: the last PONG may still be on its way.
      await waitFor("the outbox to drain", () => h.app.outbox.stats().pending === 0);
      expect(lines.map(text)).toEqual(Array.from({ length: 500 }, (_, i) => `burst ${i}`));
      expect(h.app.backend.status().state).toBe("connected");
      expect(await irc.log()).not.toMatch(/exhausted|flood/i);
      expect(alice.received.slice(n).some((l) => l.command === "QUIT" && l.nick === "st2bot")).toBe(false);
      console.log(`irc loop burst: 500 results in ${(ms / 1000).toFixed(1)} s, ${((500 / ms) * 1000).toFixed(1)} lines/s`);
      got.skipAll();
    }, 120_000);

    test("an announcement published while ngircd restarts arrives once the bot is back in #ops", async () => {
      got.skipAll();
      await irc.halt();
      await waitFor("the bot to notice", () => h.app.backend.status().state !== "connected");
      h.st2.announce("errbot", { message: "published while IRC was down", channel: "#ops" });
      await waitFor(`the outbox to hold it (${JSON.stringify(h.app.outbox.stats())})`, () => h.app.outbox.stats().pending === 1);
      await irc.start();
      await waitFor("alice back in #ops", () => alice.joined.has("#ops"), 20_000);
      await got.next((l) => inOps(l) && text(l) === "published while IRC was down", "the announcement after the restart", 30_000);
      await waitFor("the outbox to drain", () => h.app.outbox.stats().pending === 0);
      expect(h.app.outbox.stats().dead).toBe(0);
      const exec = await run(() => alice.say("#ops", "!st2 run uptime on web9"), "the command after the restart");
      await got.next((l) => inOps(l) && text(l).includes(`execution: ${exec.id}`), "the result after the restart", 15_000);
      expect(alice.received.filter((l) => inOps(l) && text(l) === "published while IRC was down")).toHaveLength(1);
    }, 60_000);
  });
}
