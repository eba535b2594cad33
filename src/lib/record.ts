/**
 * The one test for "a JSON object": what every reader of untrusted JSON (announcements, inquiry
 * schemas, stream events, `extra` fields, emulator bodies) checks before reading fields.
 */

/** A plain JSON object: not an array, not null. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
