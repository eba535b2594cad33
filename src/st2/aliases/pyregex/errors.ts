/**
 * The two ways a Python pattern fails locally: Python itself refuses it (`PyRegexError`,
 * worded as CPython words it), or Python accepts it and the JavaScript matcher cannot
 * reproduce it (`UnsupportedRegexError`).
 */

/** A Python `re.error` (message as CPython words it, with the position). */
export class PyRegexError extends Error {
  constructor(
    readonly msg: string,
    /** Where CPython reports it (its compiler's errors carry no position). */
    readonly pos?: number,
  ) {
    super(pos === undefined ? msg : `${msg} at position ${pos}`);
    this.name = new.target.name;
  }
}

/** Valid Python, but not something the local matcher can reproduce in JavaScript. */
export class UnsupportedRegexError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Python's `repr()` of a short string, for error messages worded like CPython's. */
export function pyRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  const body = s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\t/g, "\\t").replace(/\r/g, "\\r");
  return quote + (quote === "'" ? body.replace(/'/g, "\\'") : body) + quote;
}
