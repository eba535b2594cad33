/**
 * StackStorm action aliases as st2bot reads them (GET /actionalias, alias YAML files).
 * The schemas check the fields the alias engine uses and keep every other field, so a newer
 * StackStorm that adds fields still passes.
 */
import * as v from "valibot";

const text = v.nullish(v.string());
const object = v.nullish(v.record(v.string(), v.unknown()));

/**
 * One `formats` entry in object form. StackStorm's normaliser also accepts `representation`
 * as a single string; it is turned into a one-item list here.
 */
export const AliasFormatObjectSchema = v.looseObject({
  display: text,
  representation: v.optional(
    v.pipe(
      v.nullable(v.union([v.string(), v.array(v.string())])),
      v.transform((r): string[] => (r === null ? [] : typeof r === "string" ? [r] : r)),
    ),
  ),
  match_multiple: v.nullish(v.boolean()),
});
/** A `formats` entry in object form, validated (`representation` always a list when present). */
export type AliasFormatObject = v.InferOutput<typeof AliasFormatObjectSchema>;

/** One `formats` entry: a string (display and representation at once) or the object form. */
export const AliasFormatSchema = v.union([v.string(), AliasFormatObjectSchema]);
/** One validated `formats` entry. */
export type AliasFormat = v.InferOutput<typeof AliasFormatSchema>;

const AckSchema = v.looseObject({
  enabled: v.nullish(v.boolean()),
  format: text,
  append_url: v.nullish(v.boolean()),
  extra: object,
});

const ResultSchema = v.looseObject({
  enabled: v.nullish(v.boolean()),
  format: text,
  extra: object,
});

/**
 * An action alias. `enabled` defaults to true (as in StackStorm's model); `ref` defaults to
 * `<pack>.<name>` (alias files carry no ref).
 */
export const ActionAliasSchema = v.pipe(
  v.looseObject({
    id: v.optional(v.string()),
    ref: v.optional(v.string()),
    uid: v.optional(v.string()),
    name: v.pipe(v.string(), v.nonEmpty("name must not be empty")),
    pack: v.pipe(v.string(), v.nonEmpty("pack must not be empty")),
    description: text,
    enabled: v.optional(v.boolean(), true),
    action_ref: v.string(),
    formats: v.array(AliasFormatSchema),
    ack: v.nullish(AckSchema),
    result: v.nullish(ResultSchema),
    extra: object,
    immutable_parameters: object,
  }),
  v.transform((a) => ({ ...a, ref: a.ref || `${a.pack}.${a.name}` })),
);
/** A validated action alias (`ref` and `enabled` filled in). */
export type ActionAlias = v.InferOutput<typeof ActionAliasSchema>;

/** A format entry normalised like StackStorm's `normalise_alias_format_string`. */
export interface NormalisedFormat {
  /** The help text; "" when the entry has none (StackStorm's None). */
  display: string;
  /** The regex-like formats the command is matched against. */
  representations: string[];
  /** The entry's `match_multiple`: one execution per regex hit in the command. */
  matchMultiple: boolean;
}

/**
 * `normalise_alias_format_string` for one entry: a string is display and representation at
 * once; an object gives `display` and `representation` (a string counts as a list of one).
 * Lenient on raw, unvalidated input (an emulator or a cache may hand over plain JSON).
 */
export function normaliseFormat(format: unknown): NormalisedFormat {
  if (typeof format === "string") return { display: format, representations: [format], matchMultiple: false };
  if (format === null || typeof format !== "object") {
    throw new TypeError(`alias format ${JSON.stringify(format)} is neither a dictionary or string type.`);
  }
  const f = format as { display?: unknown; representation?: unknown; match_multiple?: unknown };
  const display = typeof f.display === "string" ? f.display : "";
  let representations: string[] = [];
  if (typeof f.representation === "string") representations = [f.representation];
  else if (Array.isArray(f.representation)) representations = f.representation.filter((r): r is string => typeof r === "string");
  return { display, representations, matchMultiple: f.match_multiple === true };
}

/** Every `formats` entry of an alias, normalised. */
export function normaliseFormats(formats: readonly unknown[]): NormalisedFormat[] {
  return formats.map(normaliseFormat);
}

/**
 * The (display, representation) patterns StackStorm tries for an alias
 * (`list_format_strings_from_aliases`): a display-only entry contributes one pattern with an
 * empty representation, which matches only a blank or `key=value`-only command.
 */
export function formatPatterns(formats: readonly unknown[]): { display: string; representation: string; matchMultiple: boolean }[] {
  const out: { display: string; representation: string; matchMultiple: boolean }[] = [];
  for (const f of normaliseFormats(formats)) {
    if (f.display && f.representations.length === 0) out.push({ display: f.display, representation: "", matchMultiple: false });
    for (const representation of f.representations) out.push({ display: f.display, representation, matchMultiple: f.matchMultiple });
  }
  return out;
}

/** Whether StackStorm counts the alias as enabled (absent means enabled). */
export function isEnabled(alias: { enabled?: unknown }): boolean {
  return alias.enabled !== false;
}
