/**
 * The IRC backend's status when the server cannot be reached at all: the socket's own error
 * (irc-framework hands it to "socket close", never to "socket error"), not a vague "closed".
 */
import { expect, test } from "bun:test";
import * as v from "valibot";
import { ConfigSchema } from "../../src/config/schema.ts";
import { createIrcBackend } from "../../src/chat/irc/index.ts";
import { Backoff } from "../../src/lib/backoff.ts";

test("a refused connection shows in status() as cannot connect, with the socket's reason", async () => {
  const closed = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = closed.port;
  closed.stop(true);
  const backend = createIrcBackend({ ...v.parse(ConfigSchema, {}), irc: { server: "127.0.0.1", port, tls: false } }, { backoff: new Backoff({ initialMs: 5_000, maxMs: 5_000 }) });
  try {
    void backend.start(() => undefined);
    const deadline = Date.now() + 5_000;
    while (backend.status().state !== "disconnected" && Date.now() < deadline) await Bun.sleep(20);
    expect(backend.status().detail).toContain(`cannot connect to 127.0.0.1:${port}: `);
    expect(backend.status().detail).toMatch(/ECONNREFUSED|refused/i);
  } finally {
    await backend.stop();
  }
});
