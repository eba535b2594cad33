/**
 * Markdown as a person reads it in a terminal: headings bold and underlined, **bold**, *emphasis*,
 * `code` and fenced blocks set apart, tables in aligned columns, list bullets. Only for a TTY;
 * piped output stays the plain text. Every pattern is linear (no nested quantifiers): chat text
 * and StackStorm results are input from anyone.
 */
const ESC = "\x1b[";
const style = (codes: string, text: string) => `${ESC}${codes}m${text}${ESC}0m`;

/** The text's width on screen, ANSI styles left out. */
export const visibleLength = (text: string): number => [...text.replace(/\x1b\[[0-9;]*m/g, "")].length;

/** Inline styles of one line. */
export function renderInline(line: string): string {
  return line
    .replace(/`([^`\n]+)`/g, (_, code: string) => style("36", code))
    .replace(/\*\*([^*\n]+)\*\*/g, (_, t: string) => style("1", t))
    .replace(/__([^_\n]+)__/g, (_, t: string) => style("1", t))
    .replace(/(^|[\s(])\*([^*\s][^*\n]*)\*(?=$|[\s.,;:!?)])/g, (_, pre: string, t: string) => pre + style("1", t))
    .replace(/(^|[\s(])_([^_\s][^_\n]*)_(?=$|[\s.,;:!?)])/g, (_, pre: string, t: string) => pre + style("3", t))
    .replace(/\[([^\]\n]+)\]\((https?:\/\/[^)\s]+)\)/g, (_, t: string, url: string) => `${style("4", t)} (${url})`);
}

/** `| a | b |` or `| a | b` (GFM allows the closing pipe to be left out). */
const isTableLine = (line: string) => /^\s*\|[^|]*\|/.test(line);
/** The cells of a table line, trimmed. */
const cellsOf = (line: string) => line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
const isSeparator = (line: string) => cellsOf(line).every((c) => /^:?-+:?$/.test(c));

/** A block of `| a | b |` lines as aligned columns, the header (above a `|---|` row) in bold. */
function renderTable(lines: string[]): string[] {
  const hasHeader = lines.length > 1 && isSeparator(lines[1]!);
  const rows = lines.filter((l) => !isSeparator(l)).map((l) => cellsOf(l).map(renderInline));
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell))));
  return rows.map((row, r) => {
    const cells = row.map((cell, i) => cell + " ".repeat(widths[i]! - visibleLength(cell)));
    const line = cells.join("  ").trimEnd();
    return hasHeader && r === 0 ? style("1", line) : line;
  });
}

/** `text` styled for a terminal (ANSI); line structure is kept, so callers can prefix each line. */
export function renderMarkdown(text: string): string {
  const lines = text.split("\n");
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^\s*```/.test(line)) {
      // A fenced block: its lines as they are, dimmed and indented; the fences go.
      for (i++; i < lines.length && !/^\s*```/.test(lines[i]!); i++) out.push(style("2", `  ${lines[i]!}`));
      continue;
    }
    if (isTableLine(line)) {
      const block: string[] = [];
      for (; i < lines.length && isTableLine(lines[i]!); i++) block.push(lines[i]!);
      i--;
      out.push(...renderTable(block));
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      out.push(style("1;4", heading[2]!));
      continue;
    }
    const bullet = /^(\s*)[-*+]\s+(.*)$/.exec(line);
    out.push(bullet ? `${bullet[1]!}• ${renderInline(bullet[2]!)}` : renderInline(line));
  }
  return out.join("\n");
}
