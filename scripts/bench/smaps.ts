/**
 * A process's resident memory by kind, from /proc/PID/smaps (MB): the executable's code
 * (r-xp: Bun's native code, JavaScriptCore's interpreter, JIT compilers and collector, SQLite,
 * the HTTP server and client…), its read-only data (r--p), its writable data, where the
 * embedded bundle and its bytecode live (rw-p file pages: the `.bun` section), shared
 * libraries (libc, libm…), and anonymous memory (the JS heap, malloc, JIT code, stacks).
 * File-backed pages are clean and shared by every st2bot on the host; anonymous ones are this
 * process's own. Used by scripts/bench/startup.ts and memprobe.ts.
 */
import { readFileSync, realpathSync } from "node:fs";

/** Resident memory by kind, MB. */
export interface MemorySplit {
  rss: number;
  code: number;
  rodata: number;
  bundle: number;
  libs: number;
  anon: number;
}

/** The split of `pid` (default: this process). */
export function memorySplit(pid: number | "self" = "self"): MemorySplit {
  const exe = realpathSync(`/proc/${pid}/exe`);
  const split: MemorySplit = { rss: 0, code: 0, rodata: 0, bundle: 0, libs: 0, anon: 0 };
  let kind: keyof MemorySplit | undefined;
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const [, perms = "", file = ""] = head;
      kind = !file || file.startsWith("[") ? undefined : file !== exe ? "libs" : perms.includes("x") ? "code" : perms.includes("w") ? "bundle" : "rodata";
      continue;
    }
    const field = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (!field) continue;
    const mb = Number(field[2]) / 1024;
    if (field[1] === "Anonymous") split.anon += mb;
    else {
      split.rss += mb;
      if (kind) split[kind] += mb;
    }
  }
  // Written (copy-on-write) pages of the file mappings are anonymous: counted there only.
  split.bundle = Math.max(0, split.rss - split.code - split.rodata - split.libs - split.anon);
  return split;
}
