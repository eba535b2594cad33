/**
 * StackStorm's event stream (`GET /stream/v1/stream`): Server-Sent Events with a bare newline
 * on connect and as heartbeat, `event: <name>\ndata: <json.dumps>\n\n` per event, filtered by
 * the `events` globs and, when `execution_ids` is given, to the events of those executions
 * (`st2.execution__*` by `id`, `st2.execution.output__*` by `execution_id`; every other event,
 * announcements and liveactions included, names no execution and is left out, as StackStorm's
 * listener does). There is no replay: what is published while nobody listens is gone.
 */
import { pyJson } from "./python.ts";

/** Events a client gets when it does not name any (StackStorm's defaults for ChatOps). */
export const DEFAULT_EVENTS = ["st2.announcement__*", "st2.execution__*", "st2.liveaction__*"];

interface Subscriber {
  matches: (event: string, data: unknown) => boolean;
  write: (text: string) => void;
  close: () => void;
}

const encoder = new TextEncoder();

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}

/** Parses `?events=a,b*` into a matcher; absent or empty → the defaults. */
export function eventFilter(events: string | undefined): (event: string) => boolean {
  const globs = (events ?? "").split(",").map((e) => e.trim()).filter(Boolean);
  const patterns = (globs.length ? globs : DEFAULT_EVENTS).map(globToRegExp);
  return (event) => patterns.some((p) => p.test(event));
}

export class StreamHub {
  private readonly subscribers = new Set<Subscriber>();

  constructor(private readonly heartbeatMs: number) {}

  /** Number of open stream connections. */
  get size(): number {
    return this.subscribers.size;
  }

  /** Opens one SSE response for a client. */
  open(events: string | undefined, executionIds?: string): Response {
    const byName = eventFilter(events);
    const ids = new Set((executionIds ?? "").split(",").map((e) => e.trim()).filter(Boolean));
    const matches = (event: string, data: unknown) => byName(event) && (ids.size === 0 || ids.has(executionIdOf(event, data) ?? ""));
    let sub: Subscriber | undefined;
    let timer: ReturnType<typeof setInterval> | undefined;
    const stop = () => {
      if (timer) clearInterval(timer);
      if (sub) this.subscribers.delete(sub);
    };
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        sub = {
          matches,
          write: (text) => controller.enqueue(encoder.encode(text)),
          close: () => {
            stop();
            try {
              controller.close();
            } catch {
              // already closed by the client
            }
          },
        };
        this.subscribers.add(sub);
        sub.write("\n");
        timer = setInterval(() => sub?.write("\n"), this.heartbeatMs);
      },
      cancel: stop,
    });
    return new Response(body, {
      status: 200,
      headers: { "content-type": "text/event-stream; charset=UTF-8", "cache-control": "no-cache" },
    });
  }

  /** Sends one event to every subscriber whose filter takes it. */
  publish(event: string, data: unknown): void {
    const frame = `event: ${event}\ndata: ${pyJson(data)}\n\n`;
    for (const sub of this.subscribers) if (sub.matches(event, data)) this.safeWrite(sub, frame);
  }

  /** Writes raw bytes to every open stream (malformed-input tests). */
  garbage(text: string): void {
    for (const sub of this.subscribers) this.safeWrite(sub, text);
  }

  /** Ends every open stream; clients see the response finish. */
  dropAll(): void {
    for (const sub of [...this.subscribers]) sub.close();
  }

  private safeWrite(sub: Subscriber, text: string): void {
    try {
      sub.write(text);
    } catch {
      sub.close();
    }
  }
}

/** The execution an event belongs to (`_get_execution_id_for_body`); undefined for the others. */
function executionIdOf(event: string, data: unknown): string | undefined {
  const body = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
  const id = event.startsWith("st2.execution__") ? body.id : event.startsWith("st2.execution.output__") ? body.execution_id : undefined;
  return typeof id === "string" ? id : undefined;
}
