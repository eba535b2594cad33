/**
 * scripts/setup-test-deps.sh on a machine that lacks the packages: it asks apt to wait for the
 * dpkg lock instead of failing at once, and installs redis-server, redis-sentinel and ngircd
 * with the others. apt-get and id are stand-ins that record what they were asked.
 */
import { beforeAll, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();

const script = join(import.meta.dir, "..", "..", "scripts", "setup-test-deps.sh");
let dir: string;
beforeAll(() => {
  dir = tmp("setup");
  for (const tool of ["chmod", "rm", "printf"]) {
    const real = Bun.which(tool);
    if (real) symlinkSync(real, join(dir, tool));
  }
  const stub = (name: string, body: string) => {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  };
  stub("apt-get", `echo "$*" >> "${dir}/apt.log"`);
});

async function setup(uid: string): Promise<{ code: number; stdout: string; stderr: string }> {
  writeFileSync(join(dir, "id"), `#!/bin/sh\necho ${uid}\n`);
  chmodSync(join(dir, "id"), 0o755);
  // PATH holds only the stand-ins, so prosody, chromium, redis... are "missing".
  const proc = Bun.spawn([Bun.which("bash")!, script], {
    env: { PATH: dir, ST2BOT_POLICY_RC_D: join(dir, "policy-rc.d") },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

test("as root: every apt-get waits up to 5 minutes for the dpkg lock, and redis-server, redis-sentinel and ngircd are installed when missing", async () => {
  const r = await setup("0");
  expect(r.code).toBe(0);
  const calls = readFileSync(join(dir, "apt.log"), "utf8").trim().split("\n");
  expect(calls.length).toBe(2);
  for (const call of calls) expect(call).toStartWith("-o DPkg::Lock::Timeout=300 ");
  expect(calls[0]).toBe("-o DPkg::Lock::Timeout=300 update -qq");
  const install = calls[1]!.split(" ");
  for (const pkg of ["prosody", "chromium", "openssl", "redis-server", "redis-sentinel"]) expect(install).toContain(pkg);
  // ngircd is found in /usr/sbin when the machine has it, even off PATH.
  expect(install.includes("ngircd")).toBe(!existsSync("/usr/sbin/ngircd"));
  expect(existsSync(join(dir, "policy-rc.d"))).toBe(false);
});

test("not root: it names what is missing and how to install it, and the tests skip", async () => {
  const r = await setup("1000");
  expect(r.code).toBe(0);
  expect(r.stderr).toContain("setup: missing prosody chromium openssl redis-server redis-sentinel");
  expect(r.stderr).toContain("sudo apt-get install -y");
});
