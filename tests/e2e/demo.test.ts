/** `st2bot demo` piped, as the README's first command shows it: ack, then the result, in place. */
import { expect, test } from "bun:test";
import { join } from "node:path";

test("the demo answers piped commands in the right places, non-ASCII untouched", async () => {
  const input = ["!st2help", "!st2 run uptime on web1", "/as @björn", "/dm", "!st2 deploy shop to prod-日本", "!whoami", ""].join("\n");
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "..", "..", "src", "main.ts"), "demo"], {
    stdin: new TextEncoder().encode(input),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, LANG: "C", LC_ALL: "C" },
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(code).toBe(0);
  expect(err).toContain("st2bot demo: a StackStorm emulator");
  const lines = out.split("\n");
  expect(lines).toContain("[#ops] StackStorm commands 1-7 of 7:");
  expect(lines.some((l) => l.startsWith("[#ops] Running `uptime` on web1... (details available at http://127.0.0.1:"))).toBe(true);
  expect(lines).toContain("[#ops] Action core.remote completed.");
  expect(lines.some((l) => l.startsWith("[direct @björn] Deploying *shop* to prod-日本."))).toBe(true);
  expect(lines).toContain("[direct @björn]   Deployed shop 1.4.2 to prod-日本");
  expect(lines).toContain("[direct @björn] | aclattr  | `@björn`");
  // The ack comes before the result in each place.
  const ack = lines.findIndex((l) => l.includes("Running `uptime`"));
  const result = lines.indexOf("[#ops] Action core.remote completed.");
  expect(ack).toBeLessThan(result);
}, 60_000);
