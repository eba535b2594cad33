/**
 * How Python prints values. StackStorm renders chat text with Jinja under Python, so a value
 * interpolated into a message reads `True`, `None` or `['a', 'b']`, and its stream encodes JSON
 * with `json.dumps` spacing. The emulator reproduces both so bridges see the real bytes.
 */

/** Python's truthiness: empty strings, containers, zero, null and false are false. */
export function pyTruthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === "") return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object") return Object.keys(value).length > 0;
  return true;
}

/** `str(value)` in Python: strings as they are, everything else as `repr`. */
export function pyStr(value: unknown): string {
  return typeof value === "string" ? value : pyRepr(value);
}

/** `repr(value)` in Python for JSON-shaped values. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return pyNumber(value);
  if (typeof value === "string") return pyStringRepr(value);
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(", ")}]`;
  if (typeof value === "object") {
    const items = Object.entries(value).map(([k, v]) => `${pyStringRepr(k)}: ${pyRepr(v)}`);
    return `{${items.join(", ")}}`;
  }
  return String(value);
}

function pyNumber(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (!Number.isFinite(n)) return n > 0 ? "inf" : "-inf";
  return String(n);
}

/** Python picks single quotes unless the text holds one and no double quote. */
function pyStringRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = "";
  for (const ch of s) {
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else out += ch;
  }
  return quote + out + quote;
}

/** `json.dumps(value)` with Python's defaults: `", "` and `": "` separators, ASCII only. */
export function pyJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") return asciiJsonString(value);
  if (typeof value === "number" || typeof value === "boolean") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pyJson).join(", ")}]`;
  if (typeof value === "object") {
    const items = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${asciiJsonString(k)}: ${pyJson(v)}`);
    return `{${items.join(", ")}}`;
  }
  return "null";
}

function asciiJsonString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

/**
 * st2's `to_human_time_from_seconds` filter, quirks included: under one second it prints the
 * value followed by "μs" (e.g. `0.35μs`), otherwise `1h2m5s` style from the first non-zero unit.
 */
export function toHumanTime(seconds: number): string {
  if (seconds === 0) return "0s";
  if (seconds < 1) return `${pyNumber(seconds)}\u03bcs`;
  let rest = Math.round(seconds);
  const secs = rest % 60;
  rest = Math.floor(rest / 60);
  const mins = rest % 60;
  rest = Math.floor(rest / 60);
  const hours = rest % 24;
  rest = Math.floor(rest / 24);
  const days = rest % 365;
  const years = Math.floor(rest / 365);
  const parts = [years, days, hours, mins, secs];
  const first = parts.findIndex((p) => p !== 0);
  if (first < 0) return "0s";
  const units = ["y", "d", "h", "m", "s"].slice(first);
  return parts
    .slice(first)
    .map((p, i) => `${p}${units[i]}`)
    .join("");
}
