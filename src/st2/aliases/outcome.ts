/**
 * What the alias index answers: the verdict on one chat command (`MatchOutcome`) and the
 * shapes inside it, plus a representation the index had to skip (`AliasProblem`).
 */
import type { ActionAlias } from "./types.ts";

/** One alias representation that matched a command, and the parameters it extracted. */
export interface Match {
  /** The alias the representation belongs to. */
  alias: ActionAlias;
  /** The format's help text (its representation when the entry has no display). */
  display: string;
  /** The representation that matched: send it as `format` to POST /aliasexecution. */
  representation: string;
  /** Parameter name → the text the command gave it (defaults not applied: StackStorm does that). */
  params: Record<string, string>;
  /** When several representations of this alias matched and the most specific was picked. */
  chosenAmong?: string[];
}

/**
 * The index's verdict on a command: one `match`; a `multiple` (match_multiple) alias with one
 * execution per regex hit; `none` (with suggestions and incomplete commands); `ambiguous`
 * (several aliases, or a tie, or strict mode); or `too-long` (refused before matching).
 */
export type MatchOutcome =
  | { kind: "match"; match: Match }
  | {
      kind: "multiple";
      alias: ActionAlias;
      representation: string;
      display: string;
      /** One execution per regex hit; `command` is the hit's text (plus any trailing pairs). */
      hits: { command: string; params: Record<string, string> }[];
    }
  | {
      kind: "none";
      message: string;
      /** Close displays ("did you mean"), computed when first read. */
      suggestions: string[];
      /**
       * Representations whose leading words are exactly the command, with the parameters
       * it lacks (`deploy` for `deploy {{app}} to {{env=staging}}` lacks `app`).
       */
      incomplete: Incomplete[];
    }
  | { kind: "ambiguous"; message: string; candidates: Match[]; multi?: boolean }
  /** Refused unmatched: longer than the bounds below (matching cost grows with length). */
  | { kind: "too-long"; message: string; length: number; limit: number };

/** A representation the command started but did not finish. */
export interface Incomplete {
  /** The alias the representation belongs to. */
  alias: ActionAlias;
  /** Its help text. */
  display: string;
  /** The representation itself. */
  representation: string;
  /** Required parameters (no default) the command did not give, in format order. */
  missing: string[];
}

/** A representation the index skipped because it cannot be used locally. */
export interface AliasProblem {
  /** The alias's `pack.name`. */
  ref: string;
  /** The representation ("" when the alias's `formats` as a whole is malformed). */
  format: string;
  /** Why, in words for the operator (Python's error, or what JavaScript cannot reproduce). */
  reason: string;
}
