/**
 * The durable floor of scripts/bench/outside.ts: the floor (floor.ts) plus the two things issue 13
 * forbids st2bot to trade away, and nothing else — what any bridge that matches real aliases and
 * loses nothing must spend at the least, so st2bot's figures can be read against it too.
 *
 * - Matching: it lists the aliases from StackStorm at start (100 a page, as st2bot does) and
 *   matches each line with st2bot's own engine (`AliasIndex`), then POSTs the execution.
 * - Durability: every message it prints (the ack, each announcement) is first committed to an
 *   SQLite outbox (WAL, `synchronous = FULL`: on disk when the commit returns); the messages of
 *   one stream chunk share one commit (group commit). A printed message's row is deleted in the
 *   next turn, batched, at `NORMAL` (a lost delete re-sends, it never loses).
 *
 * No ACL, audit line, identity, retries, rate limits, splitting, configuration or web server.
 *
 *   ST2_URL=http://127.0.0.1:port ST2_API_KEY=... FLOOR_DB=outbox.db floor-durable
 */
import { Database } from "bun:sqlite";
import { AliasIndex } from "../../src/st2/aliases/index.ts";
import type { ActionAlias } from "../../src/st2/aliases/types.ts";

const base = process.env.ST2_URL!;
const headers = { "St2-Api-Key": process.env.ST2_API_KEY!, "content-type": "application/json" };

const db = new Database(process.env.FLOOR_DB!, { create: true, strict: true });
db.run("PRAGMA journal_mode = WAL");
db.run("PRAGMA synchronous = FULL");
db.run("CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY, target TEXT NOT NULL, text TEXT NOT NULL)");
const insert = db.prepare<{ id: number }, [string, string]>("INSERT INTO outbox (target, text) VALUES (?, ?) RETURNING id");
const remove = db.prepare("DELETE FROM outbox WHERE id = ?");
const storeAll = db.transaction((msgs: [string, string][]) => msgs.map((m) => insert.get(m[0], m[1])!.id));

let printed: number[] = [];
const forget = db.transaction((ids: number[]) => {
  for (const id of ids) remove.run(id);
});
/** Stores `msgs` (target, text) durably, prints them, and forgets them in a later turn. */
function deliver(msgs: [string, string][]): void {
  const ids = storeAll(msgs);
  process.stdout.write(msgs.map(([target, text]) => `[${target}] ${text}\n`).join(""));
  if (printed.length === 0) {
    setImmediate(() => {
      db.run("PRAGMA synchronous = NORMAL");
      forget(printed);
      db.run("PRAGMA synchronous = FULL");
      printed = [];
    });
  }
  printed.push(...ids);
}

const aliases: ActionAlias[] = [];
for (;;) {
  const page = (await (await fetch(`${base}/api/v1/actionalias?limit=100&offset=${aliases.length}`, { headers })).json()) as ActionAlias[];
  aliases.push(...page);
  if (page.length < 100) break;
}
const index = new AliasIndex(aliases.filter((a) => a.enabled !== false));

async function stream(): Promise<void> {
  const res = await fetch(`${base}/stream/v1/stream?events=st2.announcement__errbot`, { headers });
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of res.body! as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    const msgs: [string, string][] = [];
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const data = /^data: (.*)$/m.exec(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (data) {
        const { payload } = JSON.parse(data[1]!) as { payload: { channel: string; message: string } };
        msgs.push([payload.channel, payload.message]);
      }
    }
    if (msgs.length) deliver(msgs);
  }
}
void stream();

const decoder = new TextDecoder();
let buffer = "";
for await (const chunk of Bun.stdin.stream() as unknown as AsyncIterable<Uint8Array>) {
  buffer += decoder.decode(chunk, { stream: true });
  let nl: number;
  while ((nl = buffer.indexOf("\n")) >= 0) {
    const command = buffer.slice(0, nl).replace(/^!st2 /, "");
    buffer = buffer.slice(nl + 1);
    const outcome = index.match(command);
    if (outcome.kind !== "match") {
      deliver([["#bench", `no match: ${outcome.kind}`]]);
      continue;
    }
    const { alias, representation } = outcome.match;
    const body = { name: alias.name, format: representation, command, user: "alice", source_channel: "#bench", notification_route: "errbot" };
    const res = await fetch(`${base}/api/v1/aliasexecution`, { method: "POST", headers, body: JSON.stringify(body) });
    deliver([["#bench", ((await res.json()) as { message?: string }).message ?? ""]]);
  }
}
