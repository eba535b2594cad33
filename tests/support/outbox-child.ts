/**
 * A child process for the kill -9 test: opens the outbox on the database given in argv[2] with a
 * slow (rate-limited) memory backend and enqueues argv[3] messages a few at a time. It prints
 * `A <seq> <id>` once a message is accepted (enqueue returned) and `S <seq>` once the backend
 * confirmed its send, so the parent knows what was promised and what was already posted.
 */
import { MemoryBackend } from "../../src/chat/memory.ts";
import type { Outgoing, Target } from "../../src/chat/types.ts";
import { Outbox } from "../../src/delivery/outbox.ts";
import { setLogSink } from "../../src/lib/log.ts";
import { openDatabase } from "../../src/store/db.ts";

setLogSink(() => {});
const [path, countArg] = process.argv.slice(2);
const count = Number(countArg ?? 1000);
const db = openDatabase(path!);
const backend = new MemoryBackend({ sendRate: { perSecond: 500, burst: 20 } });
const send = backend.send.bind(backend);
backend.send = async (target: Target, msg: Outgoing) => {
  await send(target, msg);
  process.stdout.write(`S ${msg.text.slice(4)}\n`);
};
const outbox = new Outbox({ db, backend, deadAfterMs: 3_600_000, maxRetryDelayMs: 1000 });
outbox.start();
for (let seq = 0; seq < count; seq++) {
  // "bot": one FULL commit per message, acknowledged synchronously (the batched paths are
  // tested in durability.test.ts); the sends are rate-limited, so the kill comes mid-way.
  const id = outbox.enqueue({ message: `msg ${seq}`, channel: `#room${seq % 4}` }, "bot");
  process.stdout.write(`A ${seq} ${id}\n`);
  if (seq % 10 === 9) await Bun.sleep(1);
}
// Wait to be killed.
await Bun.sleep(60_000);
