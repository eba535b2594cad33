/**
 * Library console chatter (the Mattermost client's "websocket connecting to …", "websocket
 * error" and whole ErrorEvent dumps) goes to st2bot's debug log, never to stdout/stderr.
 */
import { afterEach, expect, test } from "bun:test";
import { WebSocketClient } from "@mattermost/client";
import { quietHandlers, withConsoleTo } from "../../src/lib/console.ts";
import { captureLogs, logger } from "../../src/lib/log.ts";

const log = logger("test.lib");
const printed: unknown[][] = [];
const real = { log: console.log, error: console.error };
/** Records what reaches the real console while a test runs. */
function spyConsole(): void {
  console.log = (...a: unknown[]) => void printed.push(a);
  console.error = (...a: unknown[]) => void printed.push(a);
}
afterEach(() => {
  Object.assign(console, real);
  printed.length = 0;
});

test("withConsoleTo sends console output to the logger at debug, on one line, and puts console back", () => {
  const lines: string[] = [];
  const restore = captureLogs((l) => lines.push(l));
  spyConsole();
  const before = console.log;
  try {
    expect(withConsoleTo(log, () => (console.log("websocket error"), console.error({ type: "error", message: "a\nb" }), 42))).toBe(42);
    expect(() => withConsoleTo(log, () => { throw new Error("boom"); })).toThrow("boom");
  } finally {
    restore();
  }
  expect(console.log).toBe(before);
  expect(printed).toEqual([]);
  expect(lines.map((l) => l.slice(25))).toEqual(["DEBUG test.lib: websocket error", "DEBUG test.lib: { type: 'error', message: 'a\\nb' }"]);
});

test("the Mattermost client's own logging, on connect and on a failed socket, reaches only the debug log", async () => {
  const lines: string[] = [];
  const restore = captureLogs((l) => lines.push(l));
  spyConsole();
  // A port nothing listens on: the socket fails, and the library logs "websocket error" and the ErrorEvent.
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const url = `ws://127.0.0.1:${probe.port}/api/v4/websocket`;
  probe.stop(true);
  const client = new WebSocketClient({ newWebSocketFn: (u) => quietHandlers(new WebSocket(u), log), minWebSocketRetryTime: 86_400_000, maxWebSocketRetryTime: 86_400_000 });
  let closed!: () => void;
  const done = new Promise<void>((r) => (closed = r));
  client.addCloseListener(() => closed());
  try {
    withConsoleTo(log, () => client.initialize(url, "token"));
    await done;
    withConsoleTo(log, () => client.close());
  } finally {
    restore();
  }
  expect(printed).toEqual([]);
  const text = lines.join("\n");
  expect(text).toContain("DEBUG test.lib: websocket connecting to ws://127.0.0.1:");
  expect(text).toContain("DEBUG test.lib: websocket error");
  expect(text).toMatch(/DEBUG test\.lib: ErrorEvent \{/);
  for (const l of lines) expect(l.split("\n").length).toBe(1);
});
