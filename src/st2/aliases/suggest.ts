/**
 * "Did you mean" for chat commands no alias matches: displays whose leading literal words
 * are within a small edit distance of the command's leading words, closest first.
 */
import { editDistance } from "../../lib/distance.ts";
import { MAX_INDEXED_DEPTH } from "./hints.ts";
import { splitWords } from "./words.ts";

/** A word that is (part of) a placeholder or a regex construct, not literal text. */
const PLACEHOLDER = /[{}<>[\]()|\\*+?^$]/;
/** Longest word compared: typos are in words people type, and this bounds the work. */
const MAX_WORD = 40;
/** How many edits per character of the compared text a suggestion may be away (1 in 3). */
const EDITS_PER_CHAR = 1 / 3;

interface Entry {
  display: string;
  /** The display's leading literal words, lower-case (at most MAX_INDEXED_DEPTH). */
  lead: string[];
}

/** The displays of the enabled aliases, indexed for "did you mean" (built on first use). */
export class Suggester {
  private displays: string[] = [];
  private entries: Entry[] | undefined;

  /** Adds one display (duplicates are dropped when the index is built). */
  add(display: string): void {
    if (!display) return;
    this.displays.push(display);
    this.entries = undefined;
  }

  /**
   * Up to `limit` displays whose leading literal words are close to the command's first
   * words: the first k words of each (k = the shorter of the two) compared as one text,
   * allowed one edit in three characters. Closest first; then the display that shares more
   * words; then the order aliases came in. Displays that start with a parameter are not
   * suggested: their first words say nothing about what was meant.
   */
  suggest(command: string, limit = 3): string[] {
    const words = splitWords(command)
      .slice(0, MAX_INDEXED_DEPTH)
      .map((w) => w.toLowerCase().slice(0, MAX_WORD));
    if (words.length === 0) return [];
    const scored: { display: string; distance: number; shared: number; order: number }[] = [];
    this.build().forEach((entry, order) => {
      const k = Math.min(words.length, entry.lead.length);
      if (k === 0) return;
      const typed = words.slice(0, k).join(" ");
      const known = entry.lead.slice(0, k).join(" ");
      const allowed = Math.floor(Math.max(typed.length, known.length) * EDITS_PER_CHAR);
      const distance = editDistance(typed, known, allowed);
      if (distance <= allowed) scored.push({ display: entry.display, distance, shared: k, order });
    });
    scored.sort((a, b) => a.distance - b.distance || b.shared - a.shared || a.order - b.order);
    return scored.slice(0, limit).map((s) => s.display);
  }

  private build(): Entry[] {
    if (this.entries) return this.entries;
    this.displays = [...new Set(this.displays)];
    this.entries = this.displays.map((display) => {
      const lead: string[] = [];
      for (const word of splitWords(display)) {
        if (PLACEHOLDER.test(word) || lead.length >= MAX_INDEXED_DEPTH) break;
        lead.push(word.toLowerCase().slice(0, MAX_WORD));
      }
      return { display, lead };
    });
    return this.entries;
  }
}
