/**
 * How an alias format fails: the command does not fit it (`AliasParseError` and its two
 * kinds, StackStorm's `ParseException`), or the format itself cannot be used (`FormatError`).
 */

/** StackStorm's `ParseException`: the command does not fit the format. */
export class AliasParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The command does not match: `Command "<c>" doesn't match format string "<f>"`. */
export class ParseMismatchError extends AliasParseError {
  constructor(
    readonly command: string,
    readonly format: string,
  ) {
    super(`Command "${command}" doesn't match format string "${format}"`);
  }
}

/** The format is non-empty but the command supplied nothing and no default applies. */
export class NoValueError extends AliasParseError {
  constructor() {
    super("No value supplied and no default value found.");
  }
}

/**
 * The format cannot be used: Python's `re` rejects the pattern StackStorm builds from it (so
 * StackStorm itself fails on it), or it uses a Python feature JavaScript cannot reproduce.
 */
export class FormatError extends Error {
  constructor(
    readonly format: string,
    readonly reason: string,
    /** The Python regex StackStorm derives from the format, when it got that far. */
    readonly pattern?: string,
  ) {
    super(`Invalid alias format "${format}": ${reason}`);
    this.name = new.target.name;
  }
}
