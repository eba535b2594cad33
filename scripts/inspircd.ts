/**
 * Starts a real InspIRCd 3 (Debian's package) on loopback for the IRC tests that need IRCv3
 * `echo-message`, which ngircd does not offer: its own config in a temp dir, a random free port,
 * `inspircd --nofork` (with `--runasroot` as root, which InspIRCd otherwise refuses).
 * `startInspircd` throws `InspircdNotInstalledError` when the binary is missing.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./fixture.ts";

/** Thrown when the `inspircd` binary is missing. */
export class InspircdNotInstalledError extends Error {
  constructor() {
    super("inspircd not installed (apt-get install -y inspircd): the echo-message test needs it");
    this.name = "InspircdNotInstalledError";
  }
}

/** A running InspIRCd on 127.0.0.1:`port`. */
export interface Inspircd {
  port: number;
  log(): Promise<string>;
  /** Stops InspIRCd and removes its directory. */
  stop(): Promise<void>;
}

/** Loopback only, no DNS or ident, the cap/ircv3/echo-message modules. */
export function inspircdConfig(dir: string, port: number): string {
  return `<config format="xml">
<server name="irc.insp.test" description="st2bot test" network="Test">
<admin name="test" nick="test" email="test@example.com">
<bind address="127.0.0.1" port="${port}" type="clients">
<connect name="main" allow="*" timeout="60" pingfreq="120" sendq="262144" recvq="8192" useident="no" localmax="1000" globalmax="1000" limit="5000">
<class name="all" commands="*">
<files motd="${dir}/motd">
<pid file="${dir}/inspircd.pid">
<performance nouserdns="yes">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="${dir}/inspircd.log">
<module name="cap">
<module name="ircv3">
<module name="ircv3_echomessage">
`;
}

/** Starts InspIRCd; resolves once its port accepts connections. */
export async function startInspircd(): Promise<Inspircd> {
  const binary = Bun.which("inspircd") ?? "/usr/sbin/inspircd";
  if (!(await Bun.file(binary).exists())) throw new InspircdNotInstalledError();
  const dir = await mkdtemp(join(tmpdir(), "st2bot-inspircd-"));
  const port = await freePort();
  await writeFile(join(dir, "motd"), "st2bot test\n");
  await writeFile(join(dir, "inspircd.conf"), inspircdConfig(dir, port));
  const root = process.getuid?.() === 0 ? ["--runasroot"] : [];
  const proc = Bun.spawn([binary, "--nofork", "--config", join(dir, "inspircd.conf"), ...root], {
    stdin: "ignore",
    stdout: Bun.file(join(dir, "stdout.log")),
    stderr: Bun.file(join(dir, "stderr.log")),
  });
  // A test runner that exits before its cleanup must not leave InspIRCd behind.
  const reap = () => proc.kill("SIGKILL");
  process.once("exit", reap);
  void proc.exited.then(() => process.off("exit", reap));
  const stop = async () => {
    proc.kill("SIGTERM");
    const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(5_000).then(() => false)]);
    if (!exited) proc.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then(
      (s) => (s.end(), true),
      () => false,
    );
    if (up) break;
    if (proc.exitCode !== null || Date.now() > deadline) {
      const out = await readFile(join(dir, "stdout.log"), "utf8").catch(() => "");
      await stop();
      throw new Error(`inspircd did not start on port ${port}: ${out.split("\n").slice(-10).join("\n")}`);
    }
    await Bun.sleep(50);
  }
  return { port, log: () => readFile(join(dir, "inspircd.log"), "utf8").catch(() => ""), stop };
}
