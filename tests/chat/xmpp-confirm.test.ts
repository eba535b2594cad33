/**
 * What "confirmed" means for XMPP (README "Delivery guarantees"): on a server with XEP-0198
 * stream management (prosody's mod_smacks), a send resolves on the server's ack of that very
 * message, never on the socket write. A frozen server takes the bytes and acks nothing.
 */
import { afterAll, expect, test } from "bun:test";
import * as v from "valibot";
import { ConfigSchema } from "../../src/config/schema.ts";
import { Backoff } from "../../src/lib/backoff.ts";
import { captureLogs } from "../../src/lib/log.ts";
import { createXmppBackend } from "../../src/chat/xmpp/index.ts";
import { prosodyForFile } from "../support/prosody.ts";
import { XmppPerson } from "../support/xmpp-person.ts";
import { waitFor } from "../support/wait.ts";

const USERS = { bot: "botpw", alice: "alicepw" };
const lines: string[] = [];
const restoreLogs = captureLogs((line) => lines.push(line));
const { server } = await prosodyForFile({ users: USERS, modules: ["smacks"] });
afterAll(() => restoreLogs());

test.skipIf(!server && !process.env.CI)("with XEP-0198, a send waits for the server's ack of the message", async () => {
  const alice = await XmppPerson.connect({ service: server!.service, username: "alice", password: USERS.alice });
  const config = { ...v.parse(ConfigSchema, {}), xmpp: { service: server!.service, jid: "bot@localhost", password: USERS.bot, resource: "st2bot", rooms: [] } };
  const backend = createXmppBackend(config, { backoff: new Backoff({ initialMs: 200, maxMs: 1_000 }) });
  try {
    await backend.start(() => undefined);
    expect(lines.some((l) => l.includes("confirmed by XEP-0198 acks"))).toBe(true);
    const target = await backend.resolve("user", "alice@localhost");
    await backend.send(target, { text: "before the freeze" });

    await server!.freeze();
    let settled = false;
    const sending = backend.send(target, { text: "held by a frozen server" }).finally(() => (settled = true));
    await Bun.sleep(800);
    expect(settled).toBe(false);
    await server!.thaw();
    await sending;
    await waitFor("the held message", () => alice.received.some((m) => m.getChildText("body") === "held by a frozen server"), 5_000);
    expect(alice.received.map((m) => m.getChildText("body"))).toContain("held by a frozen server");
  } finally {
    await server?.thaw();
    await backend.stop();
    await alice.close();
  }
}, 30_000);
