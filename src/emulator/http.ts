import { describeError } from "../lib/errors.ts";
/** Small HTTP helpers shared by the emulator's routes. */

/** A StackStorm error answer: `{"faultstring": ...}` with a status. Thrown by routes. */
export class Fault extends Error {
  constructor(
    readonly status: number,
    readonly faultstring: string,
  ) {
    super(faultstring);
  }
}

/** webob's text for a 404 with no detail, which is what StackStorm sends for unknown paths. */
export const NOT_FOUND = "The resource could not be found.";

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

export function faultResponse(fault: Fault): Response {
  return json(fault.status, { faultstring: fault.faultstring });
}

const hexOf = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
/** The 5 random bytes a MongoDB driver draws once per process. */
const PROCESS_UNIQUE = hexOf(crypto.getRandomValues(new Uint8Array(5)));
/** The driver's 3-byte counter, starting at a random value. */
let counter = crypto.getRandomValues(new Uint32Array(1))[0]! & 0xffffff;

/**
 * A MongoDB ObjectId as StackStorm's ids are made: 4 bytes of seconds, 5 bytes fixed per
 * process, a 3-byte counter. So ids made in the same second share their first 18 hex digits
 * (parallel `core.ask` tasks of one workflow do) and differ only at the end.
 */
export function objectId(): string {
  const time = Math.floor(Date.now() / 1000).toString(16).padStart(8, "0");
  counter = (counter + 1) & 0xffffff;
  return time + PROCESS_UNIQUE + counter.toString(16).padStart(6, "0");
}

/** StackStorm's timestamp form: ISO-8601 with microseconds and `Z`. */
export function isoMicro(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** Parses a JSON body; StackStorm treats an empty body as `{}`. */
export async function readBody(req: Request): Promise<{ body: unknown; error?: string }> {
  const text = await req.text();
  if (!text.trim()) return { body: {} };
  try {
    return { body: JSON.parse(text) };
  } catch (err) {
    return { body: text, error: `Failed to parse request body: ${describeError(err)}` };
  }
}

/** Reads an integer query parameter the way StackStorm's router does (400 when not an integer). */
export function intParam(query: Record<string, string>, name: string, fallback: number): number {
  const raw = query[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^-?[0-9]+$/.test(raw)) throw new Fault(400, `Parameter "${name}" is not of type integer`);
  return Number(raw);
}
