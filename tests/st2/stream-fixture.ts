/** The fake SSE endpoint and the St2Stream starter that tests/st2/stream*.test.ts share. */
import { Backoff } from "../../src/lib/backoff.ts";
import type { CredentialProvider } from "../../src/st2/credentials.ts";
import { St2Http } from "../../src/st2/http.ts";
import { St2Stream, type St2Event, type StreamState } from "../../src/st2/stream.ts";

const enc = new TextEncoder();

/** One open SSE connection of the fake: the test writes to it and can cut it. */
export interface Conn {
  headers: Headers;
  query: URLSearchParams;
  at: number;
  send(text: string): void;
  close(): void;
}

/** A fake stream endpoint; `gate` may refuse a connection (e.g. 401 for a stale token). */
export function sseServer(gate: (req: Request) => Response | undefined = () => undefined, greet = true) {
  const conns: Conn[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    fetch(req) {
      const refused = gate(req);
      if (refused) return refused;
      let ctl!: ReadableStreamDefaultController<Uint8Array>;
      let open = true;
      const body = new ReadableStream<Uint8Array>({
        start: (c) => {
          ctl = c;
        },
        cancel: () => {
          open = false;
        },
      });
      const url = new URL(req.url);
      conns.push({
        headers: req.headers,
        query: url.searchParams,
        at: Date.now(),
        send: (text) => open && ctl.enqueue(enc.encode(text)),
        close: () => {
          if (open) ctl.close();
          open = false;
        },
      });
      if (greet) queueMicrotask(() => open && ctl.enqueue(enc.encode("\n")));
      return new Response(body, { headers: { "Content-Type": "text/event-stream" } });
    },
  });
  return { conns, stream: `http://127.0.0.1:${server.port}/stream/v1`, stop: () => server.stop(true) };
}

export const announcement = (message: string) =>
  `event: st2.announcement__errbot\ndata: ${JSON.stringify({ payload: { message, channel: "#ops", user: "alice" } })}\n\n`;

/** What each test started; the test files' afterEach empty it with `runCleanups`. */
const cleanups: Array<() => unknown> = [];

/** Stops everything the last test started, newest first. */
export async function runCleanups(): Promise<void> {
  while (cleanups.length) await cleanups.pop()!();
}

/** Registers something to stop after the test. */
export const cleanup = (fn: () => unknown) => void cleanups.push(fn);

/** Starts a stream against `stream` recording its events, states and connects; stopped after the test. */
export function startStream(stream: string, provider: CredentialProvider, extra: Partial<ConstructorParameters<typeof St2Stream>[0]> = {}) {
  const events: St2Event[] = [];
  const states: Array<[StreamState, string | undefined]> = [];
  let connects = 0;
  const s = new St2Stream({
    client: { http: new St2Http({ timeoutMs: 2_000 }), provider, urls: { stream } },
    routeKey: "errbot",
    onEvent: (e) => {
      events.push(e);
    },
    onConnect: () => {
      connects++;
    },
    onState: (state, detail) => states.push([state, detail]),
    backoff: new Backoff({ initialMs: 40, maxMs: 200, random: () => 1 }),
    healthyAfterMs: 60_000,
    ...extra,
  });
  cleanups.push(() => s.stop());
  s.start();
  return { s, events, states, connects: () => connects, delays: () => states.filter(([st]) => st === "reconnecting").map(([, d]) => Number(/in (\d+) ms/.exec(d!)![1])) };
}
