/**
 * Chat markup flattened for the services that show plain text (IRC, XMPP bodies). Only what
 * would look broken is removed: code fences (the code stays, verbatim), `**bold**` markers and
 * link syntax (`<url|label>`, `[label](url)` become `label (url)`). Single `*`, `_` and
 * backticks stay: they are often part of globs, identifiers and commands.
 */

/** A line that opens or closes a fenced code block. */
const FENCE = /^\s*```[\w+#.-]*\s*$/;

const link = (url: string, label: string) => (label === url ? url : `${label} (${url})`);

/** The lines of `text`, fence lines dropped, the lines outside fences through `line`, code verbatim. */
export function outsideFences(text: string, line: (l: string) => string): string[] {
  const out: string[] = [];
  let inCode = false;
  for (const l of text.split("\n")) {
    if (FENCE.test(l)) {
      inCode = !inCode;
      continue;
    }
    out.push(inCode ? l : line(l));
  }
  return out;
}

/** One line with inline fences and link syntax flattened, and `**bold**` spans through `bold`. */
export function flattenMarkup(line: string, bold: (text: string) => string): string {
  return line
    .replace(/```([^`]+)```/g, "$1")
    .replace(/<((?:https?|mailto):[^|>\s]+)\|([^>]+)>/g, (_, url: string, label: string) => link(url, label))
    .replace(/<((?:https?|mailto):[^|>\s]+)>/g, "$1")
    .replace(/\[([^\]]+)\]\(((?:https?|mailto):[^)\s]+)\)/g, (_, label: string, url: string) => link(url, label))
    .replace(/\*\*(?=\S)(.+?)(?<=\S)\*\*/g, (_, text: string) => bold(text));
}
