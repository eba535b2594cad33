/**
 * The floor of scripts/bench/outside.ts: the least a chat bridge can do. Reads a line, POSTs it
 * as an alias execution (alias and format looked up in a table the harness wrote: no matching,
 * no storage), prints StackStorm's ack, and prints every announcement of the stream. Nothing is
 * stored, so nothing survives a crash.
 *
 *   ST2_URL=http://127.0.0.1:port ST2_API_KEY=... FLOOR_TABLE=table.json floor
 */
export {};
const base = process.env.ST2_URL!;
const headers = { "St2-Api-Key": process.env.ST2_API_KEY!, "content-type": "application/json" };
const table = (await Bun.file(process.env.FLOOR_TABLE!).json()) as Record<string, [string, string]>;
const print = (text: string) => process.stdout.write(text + "\n");

async function stream(): Promise<void> {
  const res = await fetch(`${base}/stream/v1/stream?events=st2.announcement__errbot`, { headers });
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of res.body! as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const data = /^data: (.*)$/m.exec(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (data) print(`[${JSON.parse(data[1]!).payload.channel}] ${JSON.parse(data[1]!).payload.message}`);
    }
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
    const [name, format] = table[command] ?? ["", ""];
    const body = { name, format, command, user: "alice", source_channel: "#bench", notification_route: "errbot" };
    const res = await fetch(`${base}/api/v1/aliasexecution`, { method: "POST", headers, body: JSON.stringify(body) });
    print(`[#bench] ${((await res.json()) as { message?: string }).message}`);
  }
}
