/**
 * What the live output looks like in chat: a header naming the execution and its status, the
 * tail of the output in a code block, and where the rest is. The same words for the one edited
 * message and for a sequence of messages.
 */
import type { Slice } from "./output.ts";

/** StackStorm's statuses after which nothing changes. */
export const TERMINAL = new Set(["succeeded", "failed", "timeout", "canceled", "abandoned"]);

/** What the header says about the execution. */
export interface TailView {
  /** `pack.action`, when StackStorm named it. */
  ref?: string;
  /** The id as chat shows it (a unique ending, see bot/inquiries/ids.ts). */
  shown: string;
  status: string;
  /** StackStorm's web UI page of the execution: where the full output is. */
  url?: string;
}

const ICONS: Record<string, string> = {
  succeeded: "✅",
  failed: "❌",
  timeout: "⏱️",
  canceled: "⛔",
  abandoned: "⚠️",
};

/** `⏳ core.local 0a1b2c: running` (or the final status with its mark). */
export function header(view: TailView): string {
  const icon = ICONS[view.status] ?? "⏳";
  return `${icon} ${view.ref ? `${view.ref} ` : ""}${view.shown}: ${view.status}`;
}

/** Output inside a code block; a fence inside it is broken up so it cannot end the block. */
export function block(text: string): string {
  const body = text.replace(/```/g, "`\u200b``").replace(/\n$/, "");
  return "```\n" + (body || " ") + "\n```";
}

/** The note under a tail that left earlier output out. */
export function skippedNote(skipped: number, url: string | undefined): string {
  if (skipped <= 0) return "";
  const where = url ? `: full output at ${url}` : "";
  return `\n(${skipped.toLocaleString("en-US")} earlier characters not shown${where})`;
}

/** The one live message: header, the tail of the output (or that there is none yet), the note. */
export function liveMessage(view: TailView, out: Slice): string {
  const body = out.text ? `\n${block(out.text)}` : TERMINAL.has(view.status) ? "\n(no output)" : "\n(no output yet)";
  return `${header(view)}${body}${skippedNote(out.skipped, view.url)}`;
}

/** One message of a sequence: what is new since the last one. */
export function sequenceMessage(view: TailView, out: Slice): string {
  return `${view.ref ? `${view.ref} ` : ""}${view.shown}:\n${block(out.text)}${skippedNote(out.skipped, view.url)}`;
}

/** The closing line, sent through the outbox so it is never lost. */
export function finalLine(view: TailView, elapsedSeconds: number | undefined): string {
  const took = elapsedSeconds !== undefined ? ` after ${humanSeconds(elapsedSeconds)}` : "";
  return `${header(view)}${took}${view.url ? ` (details: ${view.url})` : ""}`;
}

function humanSeconds(s: number): string {
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
