/**
 * Messages marked secret are stored sealed (issue 10, item 5): the row holds no clear text,
 * `!st2outbox` shows a placeholder, a row sealed for one target does not open for another, and
 * a text whose key died with the process becomes a notice rather than a lost message.
 */
import { afterEach, expect, test } from "bun:test";
import { MemoryBackend } from "../../src/chat/memory.ts";
import { Outbox } from "../../src/delivery/outbox.ts";
import { openDatabase, type Database } from "../../src/store/db.ts";
import { Sealer } from "../../src/store/seal.ts";
import { captureLogs } from "../st2/helpers.ts";

const LINK = "https://st2bot.example.com/login/0b9c6a52-7f0e-4d2a-9a57-3c1d5e8f2a10";
const stops: Outbox[] = [];
afterEach(async () => {
  for (const o of stops.splice(0)) await o.stop();
});

function outbox(db: Database, backend: MemoryBackend, sealer?: Sealer): Outbox {
  const o = new Outbox({ db, backend, deadAfterMs: 60_000, maxRetryDelayMs: 50, sealer, stopGraceMs: 10 });
  stops.push(o);
  return o;
}

test("a secret text is stored sealed, delivered in clear, and listed as a placeholder when dead", async () => {
  const db = openDatabase(":memory:");
  const backend = new MemoryBackend();
  const o = outbox(db, backend);
  const id = o.enqueue({ message: `Open ${LINK}`, user: "alice", whisper: true, secret: true }, "bot");
  const row = db.query("SELECT payload FROM outbox WHERE id = ?").get(id) as { payload: string };
  expect(row.payload).not.toContain("0b9c6a52");
  expect(row.payload).not.toContain("secret\":true");
  db.exec("UPDATE outbox SET dead = 1");
  expect(o.listDead()[0]!.announcement!.message).toBe("(this message carries a secret and is stored encrypted)");
  o.replay(id);
  o.start();
  expect(await o.drain(5_000)).toBe(true);
  expect(backend.sent.map((m) => m.text)).toEqual([`Open ${LINK}`]);
});

test("after a restart with a key derived from the same secrets key, the text opens; with another, a notice goes instead", async () => {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const key = () => crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
  const db = openDatabase(":memory:");
  outbox(db, new MemoryBackend(), await Sealer.derive(await key())).enqueue({ message: `Open ${LINK}`, user: "alice", secret: true }, "bot");
  outbox(db, new MemoryBackend(), await Sealer.derive(await key())).enqueue({ message: `Open ${LINK}`, user: "bob", secret: true }, "bot");
  // A sealed body moved to another user's row does not open there.
  const payloads = db.query("SELECT id, target_key, payload FROM outbox ORDER BY id").all() as { id: number; target_key: string; payload: string }[];
  const [alice, bob] = payloads.map((r) => ({ ...r, body: JSON.parse(r.payload) as Record<string, unknown> }));
  db.query("UPDATE outbox SET payload = ? WHERE id = ?").run(JSON.stringify({ ...alice!.body, sealed: bob!.body.sealed }), alice!.id);

  const same = new MemoryBackend();
  const logs = captureLogs();
  try {
    const o = outbox(db, same, await Sealer.derive(await key()));
    o.start();
    expect(await o.drain(5_000)).toBe(true);
  } finally {
    logs.restore();
  }
  const byUser = Object.fromEntries(same.sent.map((m) => [m.target.id, m.text]));
  expect(byUser.bob).toBe(`Open ${LINK}`);
  expect(byUser.alice).toStartWith("st2bot restarted before it could send you a message that carried a secret");
  expect(logs.text()).toContain("could not be opened");
  expect(logs.text()).not.toContain("0b9c6a52");

  // A process-only key (secrets_store = "cleartext"): after a restart the notice, never the row lost.
  const db2 = openDatabase(":memory:");
  outbox(db2, new MemoryBackend()).enqueue({ message: `Open ${LINK}`, user: "carol", secret: true }, "bot");
  const later = new MemoryBackend();
  const o2 = outbox(db2, later);
  o2.start();
  expect(await o2.drain(5_000)).toBe(true);
  expect(later.sent[0]!.text).toStartWith("st2bot restarted before");
});
