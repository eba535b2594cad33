import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// The real piped stdout of a child process: the direct write(2) path, and the fall-back behind
// a full pipe, must keep every byte in order and confirm only what the OS took.
const dir = mkdtempSync(join(tmpdir(), "st2bot-stdout-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const LINES = 3000;
const child = join(dir, "child.ts");
writeFileSync(
  child,
  `import { stdio } from ${JSON.stringify(join(import.meta.dir, "..", "..", "src", "chat", "text.ts"))};
const io = stdio();
const pad = "x".repeat(200);
let confirmed = 0;
// All at once, unawaited: the pipe fills, later writes must queue behind the unwritten rest.
const all = [];
for (let i = 0; i < ${LINES}; i++) all.push(io.write(\`line \${i} \${pad}\\n\`).then(() => confirmed++));
// Nothing is read yet: far more than a pipe holds cannot all be confirmed.
await Bun.sleep(200);
process.stderr.write(\`confirmed-before-reading \${confirmed}\\n\`);
await Promise.all(all);
process.stderr.write(\`confirmed \${confirmed}\\n\`);
`,
);

describe("the terminal backend's piped stdout", () => {
  test("keeps every line in order when the reader stalls, and confirms only what the pipe took", async () => {
    // A real pipe whose reader sleeps first (Bun's own pipe to this process reads eagerly).
    const proc = Bun.spawn(["sh", "-c", `"${process.execPath}" "${child}" | (sleep 0.6; cat)`], { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(proc.stdout).text();
    const err = await new Response(proc.stderr).text();
    expect(await proc.exited).toBe(0);
    const lines = out.split("\n").filter(Boolean);
    expect(lines.length).toBe(LINES);
    lines.forEach((line, i) => expect(line.startsWith(`line ${i} `)).toBe(true));
    const before = Number(/confirmed-before-reading (\d+)/.exec(err)?.[1]);
    // A pipe holds 64 KiB by default (~320 of these lines); well under all of them were confirmed.
    expect(before).toBeLessThan(LINES / 2);
    expect(err).toContain(`confirmed ${LINES}`);
  });
});
