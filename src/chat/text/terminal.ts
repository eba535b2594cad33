/**
 * The interactive terminal (stdin and stdout are TTYs): node:readline gives line editing and
 * history; messages and log lines are written above the prompt, which is then drawn again with
 * whatever was being typed, so nothing overwrites the line being edited. Ctrl-C ends the input
 * as Ctrl-D does (results still on their way are waited for); a second Ctrl-C, once readline has
 * let go of the terminal, is an ordinary SIGINT and quits.
 */
import { clearLine, createInterface, cursorTo } from "node:readline";
import { setLogSink } from "../../lib/log.ts";

/** What the text backend needs of an interactive terminal (see TextIO). */
export interface Terminal {
  lines: AsyncIterable<string>;
  write(text: string): Promise<void>;
  setPrompt(prompt: string): void;
}

/** Lines from `emit` as an async iterable that ends on `close`. */
function lineQueue(): { lines: AsyncIterable<string>; push(line: string): void; close(): void } {
  const queue: string[] = [];
  let closed = false;
  let wake: (() => void) | undefined;
  const lines = (async function* () {
    for (;;) {
      while (queue.length > 0) yield queue.shift()!;
      if (closed) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  })();
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  return { lines, push: (l) => (queue.push(l), poke()), close: () => ((closed = true), poke()) };
}

/** The process's terminal through readline, with log lines routed above the prompt. */
export function readlineTerminal(): Terminal {
  const out = process.stdout;
  const rl = createInterface({ input: process.stdin, output: out, terminal: true, historySize: 1000 });
  const q = lineQueue();
  let open = true;
  rl.on("line", (line) => q.push(line));
  rl.on("close", () => {
    open = false;
    q.close();
  });
  rl.on("SIGINT", () => {
    out.write("\n(Ctrl-C: waiting briefly for results still on their way; Ctrl-C again quits now)\n");
    rl.close();
  });
  /** Runs `write` on a clean line, then draws the prompt and the input again below it. */
  const above = (write: (done: (err?: Error | null) => void) => void) =>
    new Promise<void>((resolve, reject) => {
      if (open) {
        clearLine(out, 0);
        cursorTo(out, 0);
      }
      write((err) => (err ? reject(err) : resolve()));
      if (open) rl.prompt(true);
    });
  setLogSink((line) => void above((done) => process.stderr.write(line + "\n", done)).catch(() => undefined));
  return {
    lines: q.lines,
    write: (text) => above((done) => out.write(text, done)),
    setPrompt: (prompt) => {
      rl.setPrompt(prompt);
      if (open) rl.prompt(true);
    },
  };
}
