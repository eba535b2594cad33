/**
 * Inquiry ids as people see and type them. StackStorm's ids are MongoDB ObjectIds: 8 hex digits
 * of seconds, 10 fixed per StackStorm process, then a 6-digit counter. Ids made in the same
 * second by one process (the parallel `core.ask` tasks of one workflow) share their first 18
 * digits, so a prefix tells them apart only when nearly whole; the end is what differs.
 * Chat therefore shows the shortest ending (at least the counter's 6 digits) that names one
 * pending inquiry, and accepts any fragment of at least MIN_TYPED digits that starts or ends
 * exactly one pending inquiry's id. A fragment naming several is refused with the candidates.
 */

/** The shortest ending shown: the ObjectId counter, which differs between ids of one process. */
export const MIN_SHOWN = 6;
/** Past this many digits an ending saves too little to be worth showing instead of the whole id. */
export const MAX_SHOWN = 12;
/** The shortest fragment accepted: shorter ones collide too easily to be safe to act on. */
export const MIN_TYPED = 6;
/** A whole StackStorm id. */
export const FULL_ID = /^[0-9a-f]{24}$/i;

/** Whether `fragment` names `id` (it starts or ends it, in any case). */
export function names(fragment: string, id: string): boolean {
  const f = fragment.toLowerCase();
  const i = id.toLowerCase();
  return i.startsWith(f) || i.endsWith(f);
}

/**
 * The shortest ending of `id`, MIN_SHOWN to MAX_SHOWN characters, that names no other id of
 * `others` (neither starts nor ends one); the whole id when no such ending is unique.
 * Typed back, it names exactly this id among those it was computed against.
 */
export function shortId(id: string, others: Iterable<string>): string {
  const rivals = [...others].filter((o) => o.toLowerCase() !== id.toLowerCase());
  for (let k = Math.min(MIN_SHOWN, id.length); k <= MAX_SHOWN && k < id.length; k++) {
    const tail = id.slice(-k);
    if (!rivals.some((o) => names(tail, o))) return tail;
  }
  return id;
}

/** The short form of every id of `ids`, each computed against all the others. */
export function shortIds(ids: readonly string[]): Map<string, string> {
  return new Map(ids.map((id) => [id, shortId(id, ids)]));
}

/** What a typed id fragment names among the pending inquiries. */
export type IdLookup<T> =
  | { kind: "one"; item: T }
  | { kind: "none" }
  | { kind: "several"; items: T[] }
  | { kind: "too-short" };

/** Resolves a typed fragment (not a whole id) against the pending inquiries. */
export function lookupFragment<T extends { id: string }>(fragment: string, pending: readonly T[]): IdLookup<T> {
  if (fragment.length < MIN_TYPED) return { kind: "too-short" };
  const hits = pending.filter((p) => names(fragment, p.id));
  if (hits.length === 1) return { kind: "one", item: hits[0]! };
  return hits.length === 0 ? { kind: "none" } : { kind: "several", items: hits };
}
