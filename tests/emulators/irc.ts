/**
 * A wire-level IRC registration emulator for what ngircd cannot show: SASL PLAIN (IRCv3 `sasl`
 * capability, AUTHENTICATE, numerics 900/903/904 as in https://ircv3.net/specs/extensions/sasl-3.1)
 * and a refused server password (464 then ERROR, as ircds answer). Everything after registration
 * (channels, messages, flood limits) is tested against the real ngircd instead.
 */
import type { Socket, TCPSocketListener } from "bun";

/** What the emulated server offers and demands. */
export interface IrcEmulatorOptions {
  /** Offer `sasl` in CAP LS and accept these PLAIN credentials. */
  sasl?: { account: string; password: string };
  /** Require this PASS. */
  password?: string;
  /**
   * Offer IRCv3 `echo-message` and relay (and echo) PRIVMSGs cut to this many bytes in all,
   * prefix and CR-LF included, as a server with a shorter line limit than 512 would.
   */
  echoLineBytes?: number;
  /** Drop the connection on the first JOIN it gets (a server going away mid-join); later JOINs succeed. */
  dropOnFirstJoin?: boolean;
}

/** A running emulator and what it saw. */
export interface IrcEmulator {
  port: number;
  /** Every line clients sent, in order. */
  lines: string[];
  /** The SASL PLAIN credentials clients sent, decoded (authzid, authcid, password). */
  saslAttempts: Array<[string, string, string]>;
  /** Every PRIVMSG echoed, as the client received it (after any cut). */
  echoed: string[];
  /** How many connections were accepted. */
  connections(): number;
  stop(): void;
}

interface Session {
  nick: string;
  pass?: string;
  capEnded: boolean;
  user: boolean;
  done: boolean;
  buffer: string;
}

const NAME = "irc.emulator";

/** Starts the emulator on a random loopback port; `stop()` closes it and every connection. */
export function startIrcEmulator(opts: IrcEmulatorOptions): IrcEmulator {
  const lines: string[] = [];
  const saslAttempts: Array<[string, string, string]> = [];
  let connections = 0;
  const echoed: string[] = [];
  let joins = 0;
  const send = (s: Socket<Session>, line: string) => s.write(`${line}\r\n`);
  const maybeWelcome = (s: Socket<Session>) => {
    const st = s.data;
    if (st.done || !st.capEnded || !st.user || !st.nick) return;
    if (opts.password !== undefined && st.pass !== opts.password) {
      send(s, `:${NAME} 464 ${st.nick} :Password incorrect`);
      send(s, "ERROR :Closing Link: bad password");
      s.end();
      return;
    }
    st.done = true;
    send(s, `:${NAME} 001 ${st.nick} :Welcome to the emulated network ${st.nick}!st2bot@emulated.host`);
    send(s, `:${NAME} 376 ${st.nick} :End of MOTD command`);
  };
  const handle = (s: Socket<Session>, line: string) => {
    lines.push(line);
    const [command = "", ...rest] = line.split(" ");
    const arg = rest.join(" ");
    const st = s.data;
    switch (command.toUpperCase()) {
      case "CAP":
        if (rest[0] === "LS") send(s, `:${NAME} CAP * LS :${[opts.sasl ? "sasl=PLAIN" : "", opts.echoLineBytes ? "echo-message" : ""].join(" ").trim()}`);
        else if (rest[0] === "REQ") send(s, `:${NAME} CAP * ACK ${rest.slice(1).join(" ")}`);
        else if (rest[0] === "END") (st.capEnded = true), maybeWelcome(s);
        break;
      case "PASS":
        st.pass = arg.replace(/^:/, "");
        break;
      case "NICK":
        st.nick = arg.replace(/^:/, "");
        maybeWelcome(s);
        break;
      case "USER":
        st.user = true;
        // A client that never sent CAP LS is not waiting for capabilities.
        if (!lines.some((l) => l.startsWith("CAP LS"))) st.capEnded = true;
        maybeWelcome(s);
        break;
      case "AUTHENTICATE":
        if (arg === "PLAIN") send(s, "AUTHENTICATE +");
        else {
          const [authz = "", authc = "", password = ""] = Buffer.from(arg, "base64").toString("utf8").split("\0");
          saslAttempts.push([authz, authc, password]);
          if (opts.sasl && authc === opts.sasl.account && password === opts.sasl.password) {
            send(s, `:${NAME} 900 ${st.nick || "*"} ${st.nick}!st2bot@emulated.host ${authc} :You are now logged in as ${authc}`);
            send(s, `:${NAME} 903 ${st.nick || "*"} :SASL authentication successful`);
          } else send(s, `:${NAME} 904 ${st.nick || "*"} :SASL authentication failed`);
        }
        break;
      case "PRIVMSG": {
        if (!opts.echoLineBytes) break;
        const target = rest[0] ?? "";
        const text = rest.slice(1).join(" ").replace(/^:/, "");
        const head = `:${st.nick}!st2bot@emulated.host PRIVMSG ${target} :`;
        const room = opts.echoLineBytes - Buffer.byteLength(head) - 2;
        // Cut on a character boundary, as servers that count bytes do.
        let cut = text;
        while (Buffer.byteLength(cut) > room) cut = cut.slice(0, -1);
        echoed.push(cut);
        send(s, head + cut);
        break;
      }
      case "JOIN":
        if (opts.dropOnFirstJoin && joins++ === 0) {
          s.end();
          break;
        }
        send(s, `:${st.nick}!st2bot@emulated.host JOIN ${rest[0]}`);
        break;
      case "PING":
        send(s, `:${NAME} PONG ${NAME} :${arg.replace(/^:/, "")}`);
        break;
      case "QUIT":
        send(s, "ERROR :Closing Link");
        s.end();
        break;
    }
  };
  const server: TCPSocketListener<Session> = Bun.listen<Session>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        connections++;
        s.data = { nick: "", capEnded: false, user: false, done: false, buffer: "" };
      },
      data(s, chunk) {
        s.data.buffer += chunk.toString();
        let i: number;
        while ((i = s.data.buffer.indexOf("\n")) >= 0) {
          const line = s.data.buffer.slice(0, i).replace(/\r$/, "");
          s.data.buffer = s.data.buffer.slice(i + 1);
          if (line) handle(s, line);
        }
      },
    },
  });
  return { port: server.port, lines, saslAttempts, echoed, connections: () => connections, stop: () => server.stop(true) };
}
