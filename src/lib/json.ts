/**
 * Checks on parsed JSON, done once: what every reader of untrusted JSON (announcements, inquiry
 * schemas and answers, stream events, `extra` fields, emulator bodies) asks before reading it.
 */

/** A plain JSON object: not an array, not null. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * JSON Schema's type test (draft 4, as StackStorm checks parameters and inquiry answers):
 * integers are numbers without a fraction; a type name this test does not know passes.
 */
export function hasJsonType(value: unknown, type: string): boolean {
  switch (type) {
    case "boolean":
      return typeof value === "boolean";
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "string":
      return typeof value === "string";
    case "null":
      return value === null;
    case "array":
      return Array.isArray(value);
    case "object":
      return isRecord(value);
    default:
      return true;
  }
}
