/**
 * `st2bot doctor` for IRC: can the bot reach the server and register (server password, SASL,
 * NickServ as configured), and can it join each configured channel with its key. It connects
 * with a nick of its own (`<nick>-doctor`), so a bot already running keeps its nick and its
 * channels, and it QUITs when done. Every step waits at most until one overall deadline.
 */
import { Client, type IrcMessage } from "irc-framework";
import type { Config } from "../../config/schema.ts";
import type { DoctorCheck } from "../backend.ts";
import { requireSection } from "../backend.ts";
import { JOIN_REFUSALS } from "./channels.ts";
import { quit } from "./connection.ts";
import { channelsOf, irc, type IrcChannel, type IrcSettings } from "./settings.ts";
import { describeError } from "../../lib/errors.ts";

/** How long the probe may take in all, and how long NickServ gets to answer IDENTIFY. */
export interface IrcProbeTiming {
  timeoutMs?: number;
  nickservWaitMs?: number;
}

/**
 * The nicks the probe registers with, in order: never the bot's own. The short ones are for a
 * server whose NICKLEN is 9 (RFC 2812's, and ngircd's default) or a taken `-doctor` nick.
 */
export function doctorNicks(nick: string): string[] {
  return [`${nick}-doctor`, `${nick.slice(0, 5)}-doc`, `dr${Math.floor(1_000_000 + Math.random() * 9_000_000)}`];
}

/** What a person does about each JOIN refusal (the reasons themselves come from channels.ts). */
const JOIN_FIXES: Record<string, (c: IrcChannel) => string> = {
  "403": (c) => `fix the name ${c.name} in irc.channels`,
  "405": () => "the bot is in too many channels: drop some from irc.channels",
  "471": () => "ask a channel operator to raise the user limit (+l)",
  "473": () => "ask a channel operator to invite the bot or add an invite exception (+I) for it",
  "474": () => "ask a channel operator to lift the ban on the bot (or add a ban exception, +e)",
  "475": (c) => (c.key ? `the key of ${c.name} in irc.channels is wrong: ask a channel operator for it` : `the channel has a key: set { name = "${c.name}", key = "..." } in irc.channels`),
  "476": (c) => `fix the name ${c.name} in irc.channels`,
  "477": () => "register the bot's nick and set irc.sasl_password (or irc.nickserv_password)",
  "479": (c) => `fix the name ${c.name} in irc.channels`,
};

/** A finding that ends the probe early (registration failed). */
class Stop extends Error {
  constructor(readonly check: DoctorCheck) {
    super(check.what);
  }
}

const fold = (s: string) => s.toLowerCase();

/** The live checks; never throws (a failure is a finding). */
export async function probeIrc(config: Config, timing: IrcProbeTiming = {}): Promise<DoctorCheck[]> {
  const s = requireSection(irc, config);
  const nick = s.nick ?? config.bot.name;
  const port = s.port ?? (s.tls ? 6697 : 6667);
  const where = `${s.server}:${port}${s.tls ? " (TLS)" : ""}`;
  const deadline = Date.now() + (timing.timeoutMs ?? 30_000);
  const left = (cap: number) => Math.max(0, Math.min(cap, deadline - Date.now()));
  const client = new Client();
  const handlers = new Set<(m: IrcMessage) => void>();
  client.connection.on("message", (m) => handlers.forEach((h) => h(m)));
  try {
    const registeredAs = await register(client, s, nick, port, where, left(Infinity));
    const sasl = s.sasl_password ? `, logged in with SASL as ${s.sasl_account ?? nick}` : "";
    const out: DoctorCheck[] = [{ verdict: "ok", what: `IRC: ${where} registered the doctor as ${registeredAs}${sasl}` }];
    if (s.nickserv_password) out.push(await identify(client, nick, s.nickserv_password, left(timing.nickservWaitMs ?? 10_000), handlers));
    out.push(...(await joinAll(client, registeredAs, channelsOf(s), left(10_000), handlers)));
    return out;
  } catch (err) {
    if (err instanceof Stop) return [err.check];
    return [{ verdict: "fail", what: `IRC: cannot check ${where}: ${describeError(err)}` }];
  } finally {
    await quit(client, "st2bot doctor done");
  }
}

/** Resolves with the nick the server welcomed; rejects with a Stop saying what to fix. */
function register(client: Client, s: IrcSettings, nick: string, port: number, where: string, ms: number): Promise<string> {
  const nicks = doctorNicks(nick);
  const first = nicks.shift()!;
  return new Promise((resolve, reject) => {
    let refusal: DoctorCheck | undefined;
    const fail = (check: DoctorCheck) => (clearTimeout(timer), reject(new Stop(check)));
    const timer = setTimeout(
      () => fail({ verdict: "fail", what: `IRC: ${where} did not finish registering the doctor within ${Math.round(ms / 1000)} s`, fix: "check irc.server, irc.port and irc.tls (a TLS port spoken to in plain text stays silent, and the reverse)" }),
      ms,
    );
    client.on("registered", (e) => (clearTimeout(timer), resolve(e.nick)));
    const nextNick = () => {
      const next = nicks.shift();
      if (next) client.changeNick(next);
      else refusal = { verdict: "fail", what: `IRC: ${where} refused every nick the doctor tried (${doctorNicks(nick).slice(0, 2).join(", ")}, ...)`, fix: "run doctor again in a minute, or set irc.nick" };
    };
    client.on("nick in use", nextNick);
    client.on("nick invalid", nextNick);
    client.on("sasl failed", (e) => {
      fail(
        e.reason === "capability_missing"
          ? { verdict: "fail", what: `IRC: ${where} does not offer SASL`, fix: "remove irc.sasl_password (use irc.nickserv_password instead)" }
          : { verdict: "fail", what: `IRC: ${where} refused the SASL login of ${s.sasl_account ?? nick} (${e.reason}${e.message ? `: ${e.message}` : ""})`, fix: "check irc.sasl_account and irc.sasl_password" },
      );
      client.connection.end();
    });
    client.on("irc error", (e) => {
      if (e.error === "password_mismatch" || (e.error === "irc" && /password/i.test(e.reason ?? ""))) {
        refusal = { verdict: "fail", what: `IRC: ${where} refused the server password`, fix: s.server_password ? "check irc.server_password" : "the server wants a password: set irc.server_password" };
      } else if (e.error === "irc") refusal ??= { verdict: "fail", what: `IRC: ${where} closed the connection: ${e.reason ?? "no reason given"}`, fix: "check irc.server and irc.port, and whether the server admits this host" };
    });
    // irc-framework hands the socket's error (refused, TLS, DNS) to "socket close" only.
    client.on("socket close", (err?: unknown) => {
      if (err instanceof Error) refusal ??= { verdict: "fail", what: `IRC: cannot connect to ${where}: ${err.message}`, fix: "check irc.server, irc.port, irc.tls (6697 is TLS, 6667 plain) and the network" };
    });
    client.on("close", () => fail(refusal ?? { verdict: "fail", what: `IRC: ${where} closed the connection during registration`, fix: "check irc.server, irc.port and irc.tls" }));
    client.connect({
      host: s.server!,
      port,
      tls: s.tls,
      rejectUnauthorized: s.tls_verify,
      nick: first,
      username: s.username,
      gecos: s.realname,
      ...(s.server_password ? { password: s.server_password } : {}),
      account: s.sasl_password ? { account: s.sasl_account ?? nick, password: s.sasl_password } : {},
      sasl_disconnect_on_fail: true,
      version: "st2bot",
      auto_reconnect: false,
    });
  });
}

/** `IDENTIFY` to NickServ, judged by RPL_LOGGEDIN (900) or NickServ's NOTICE. */
async function identify(client: Client, nick: string, password: string, ms: number, handlers: Set<(m: IrcMessage) => void>): Promise<DoctorCheck> {
  const answer = new Promise<DoctorCheck | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    const done = (c: DoctorCheck) => (clearTimeout(timer), handlers.delete(h), resolve(c));
    const h = (m: IrcMessage) => {
      const text = m.params.at(-1) ?? "";
      if (m.command === "900") done({ verdict: "ok", what: `IRC: NickServ accepted the password for ${nick}` });
      else if (m.command === "401" && fold(m.params[1] ?? "") === "nickserv") done({ verdict: "fail", what: "IRC: the server has no NickServ", fix: "remove irc.nickserv_password (or use irc.sasl_password where the network offers SASL)" });
      else if (m.command === "NOTICE" && fold(m.nick) === "nickserv") {
        if (/invalid|incorrect|wrong|denied|failed|not registered|isn't registered|no such/i.test(text)) done({ verdict: "fail", what: `IRC: NickServ refused IDENTIFY ${nick}: ${text.slice(0, 200)}`, fix: "check irc.nickserv_password (and that irc.nick is the registered account)" });
        else if (/identified|recogni[sz]ed|logged in/i.test(text)) done({ verdict: "ok", what: `IRC: NickServ accepted the password for ${nick}` });
      }
    };
    handlers.add(h);
  });
  client.connection.write(`PRIVMSG NickServ :IDENTIFY ${nick} ${password}`);
  return (await answer) ?? { verdict: "warn", what: `IRC: NickServ did not answer IDENTIFY ${nick} within ${Math.round(ms / 1000)} s`, fix: "check irc.nickserv_password, or use irc.sasl_password where the network offers SASL" };
}

/** JOINs every channel (with its key) and reports each: joined, refused with the reason, or no answer. */
async function joinAll(client: Client, me: string, channels: IrcChannel[], ms: number, handlers: Set<(m: IrcMessage) => void>): Promise<DoctorCheck[]> {
  const results = new Map<string, { ok: true } | { code: string }>();
  const wanted = new Set(channels.map((c) => fold(c.name)));
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    const h = (m: IrcMessage) => {
      const name = fold(m.command === "JOIN" ? (m.params[0] ?? "") : (m.params[1] ?? ""));
      if (!wanted.has(name) || results.has(name)) return;
      if (m.command === "JOIN" && fold(m.nick) === fold(me)) results.set(name, { ok: true });
      else if (JOIN_REFUSALS[m.command]) results.set(name, { code: m.command });
      if (results.size === wanted.size) (clearTimeout(timer), resolve());
    };
    handlers.add(h);
    if (wanted.size === 0) (clearTimeout(timer), resolve());
    for (const c of channels) client.connection.write(c.key ? `JOIN ${c.name} ${c.key}` : `JOIN ${c.name}`);
  });
  return channels.map((c): DoctorCheck => {
    const r = results.get(fold(c.name));
    if (!r) return { verdict: "fail", what: `IRC: no answer to JOIN ${c.name} within ${Math.round(ms / 1000)} s`, fix: "check the channel name in irc.channels, and run doctor again" };
    if ("ok" in r) return { verdict: "ok", what: `IRC: the bot can join ${c.name}` };
    return { verdict: "fail", what: `IRC: cannot join ${c.name}: ${r.code} ${JOIN_REFUSALS[r.code]}`, fix: JOIN_FIXES[r.code]!(c) };
  });
}
