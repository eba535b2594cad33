/**
 * What the real-server fixtures (prosody, ngircd, InspIRCd, redis) share: a free loopback port,
 * a "does it accept connections yet" probe, a setup command that must succeed, and the
 * lifecycle every fixture hands its tests (restart, freeze, stop and remove its directory).
 */
import { rm } from "node:fs/promises";

/** A port the kernel just handed out on loopback (free unless someone races us for it). */
export async function freePort(): Promise<number> {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/** Whether something accepts TCP connections on the loopback `port`. */
export async function accepts(port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

/** Runs a setup command; rejects with its output when it exits non-zero (`server` names the fixture). */
export async function runSetup(server: string, cmd: string[], what: string): Promise<void> {
  const proc = Bun.spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`${server} setup (${what}) failed with exit code ${code}: ${(out + err).trim()}`);
}

/** A server process a fixture can start, stop and pause. */
export interface ServerProcess {
  start(): Promise<void>;
  halt(): Promise<void>;
  signal(sig: "SIGSTOP" | "SIGCONT"): void | Promise<void>;
}

/** What a fixture hands its tests to drive the server's life. */
export interface Lifecycle {
  /** Stops the server (clients see their connection drop) and starts it again on the same ports. */
  restart(): Promise<void>;
  /** Stops the server only; `start()` brings it back. */
  halt(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP: sockets stay open but nothing is read or answered until `thaw`. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** Stops the server and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

/** The lifecycle of `server`, whose files live in `dir`. */
export function lifecycle(server: ServerProcess, dir: string): Lifecycle {
  return {
    restart: async () => {
      await server.halt();
      await server.start();
    },
    halt: () => server.halt(),
    start: () => server.start(),
    freeze: async () => server.signal("SIGSTOP"),
    thaw: async () => server.signal("SIGCONT"),
    stop: async () => {
      await server.halt();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
