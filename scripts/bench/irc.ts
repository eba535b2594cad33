/**
 * The IRC backend against a real ngircd on loopback, through a whole st2bot (startApp, outbox on
 * disk, StackStorm emulator):
 *
 *   bun scripts/bench/irc.ts [commands=50] [burst=500]
 *
 * 1. round trip: a person says `!st2 run ...` in #ops → the ack arrives at that person;
 * 2. burst: `burst` announcements to #ops at once → all arrive, in order (lines/s);
 * 3. the same burst whispered to the person.
 *
 * ngircd 26.1 (conn.c, Read_Request) gives a user a 1 s penalty once it has handled 256 bytes
 * (COMMAND_LEN / 2) of that user's commands within one wall-clock second: that, not the bot,
 * sets the rate here (about 6-7 short lines a second with their confirming PINGs).
 */
import { startNgircd } from "../ngircd.ts";
import { IrcPerson, type IrcLine } from "../../tests/support/irc-person.ts";
import { startLoop } from "../../tests/e2e/backend-loop.ts";
import { waitFor } from "../../tests/support/wait.ts";

const COMMANDS = Number(process.argv[2] ?? 50);
const BURST = Number(process.argv[3] ?? 500);

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const fromBot = (to: string) => (l: IrcLine) => l.command === "PRIVMSG" && l.nick === "st2bot" && l.params[0] === to;

const server = await startNgircd();
const alice = await IrcPerson.connect(server.port, "alice");
await alice.join("#ops");
const h = await startLoop("irc", `[irc]\nserver = "127.0.0.1"\nport = ${server.port}\ntls = false\nchannels = ["#ops"]`, { completionDelayMs: 3_600_000 });
await waitFor("st2bot in #ops", () => alice.received.some((l) => l.command === "JOIN" && l.nick === "st2bot"));

const trips: number[] = [];
for (let i = 0; i < COMMANDS; i++) {
  const acked = new Promise<number>((resolve) => {
    alice.onArrival = (l) => fromBot("#ops")(l) && (l.params[1] ?? "").startsWith("Running") && resolve(performance.now());
  });
  const t0 = performance.now();
  alice.say("#ops", `!st2 run uptime on web${i}`);
  trips.push((await acked) - t0);
  // Stay below ngircd's 256 bytes a second per user (its penalty would be measured, not the bot).
  await Bun.sleep(300);
}
console.log(`round trip (#ops line → ack in #ops), ${COMMANDS} commands: p50 ${pct(trips, 50).toFixed(1)} ms  p99 ${pct(trips, 99).toFixed(1)} ms`);

async function burst(label: string, to: string, payload: (i: number) => Record<string, unknown>): Promise<void> {
  await waitFor("the outbox to drain", () => h.app.outbox.stats().pending === 0, 120_000);
  const seen = alice.received.length;
  const t0 = performance.now();
  for (let i = 0; i < BURST; i++) h.st2.announce("errbot", payload(i));
  const got = await waitFor(`${BURST} lines`, () => {
    const l = alice.received.slice(seen).filter((x) => fromBot(to)(x) && (x.params[1] ?? "").startsWith("burst "));
    return l.length >= BURST ? l : undefined;
  }, 300_000);
  const s = (performance.now() - t0) / 1000;
  const inOrder = got.every((l, i) => l.params[1] === `burst ${i}`);
  const log = await server.log();
  console.log(
    `burst of ${BURST} to ${label}: ${s.toFixed(1)} s, ${(BURST / s).toFixed(1)} lines/s, in order: ${inOrder}, ` +
      `bot ${h.app.backend.status().state}, flood kills in ngircd's log: ${(log.match(/exhausted|flood/gi) ?? []).length}`,
  );
}
await burst("alice (whispers)", "alice", (i) => ({ message: `burst ${i}`, user: "alice", whisper: true }));
await burst("#ops", "#ops", (i) => ({ message: `burst ${i}`, channel: "#ops" }));

await h.stop();
await alice.close();
await server.stop();
process.exit(0);
