/**
 * How executions read in chat: a listing (one line each, under the short id to type back) and
 * one execution in full (status, who, parameters, result, link), both cut to the message size.
 */
import type { Execution } from "../../st2/schemas.ts";

/** Who ran it: the chat user an alias execution names (`api_user`) and the StackStorm user. */
export function whoRan(ex: Execution): string {
  const ctx = ex.context ?? {};
  const st2User = typeof ctx.user === "string" ? ctx.user : undefined;
  const chatUser = typeof ctx.api_user === "string" ? ctx.api_user : undefined;
  if (chatUser && st2User && chatUser !== st2User) return `${chatUser} (as StackStorm user ${st2User})`;
  return chatUser ?? st2User ?? "unknown";
}

/** `2026-12-05 16:40:12 UTC` from StackStorm's microsecond timestamps. */
function when(ts: string | undefined): string {
  if (!ts) return "?";
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? ts : `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** The listing under `heading` (`empty` when there is none); stops (saying how many more) rather than exceed `maxLength`. */
export function renderList(executions: readonly Execution[], short: ReadonlyMap<string, string>, heading: string, empty: string, maxLength: number): string {
  if (executions.length === 0) return `${empty}.`;
  const budget = maxLength - 200;
  const lines: string[] = [];
  let size = 0;
  for (const ex of executions) {
    const line = `  ${short.get(ex.id) ?? ex.id}  ${ex.status ?? "?"}  ${ex.action?.ref ?? "?"}  by ${whoRan(ex)}  ${when(ex.start_timestamp)}`;
    if (lines.length > 0 && size + line.length + 1 > budget) break;
    lines.push(line);
    size += line.length + 1;
  }
  const rest = executions.length - lines.length;
  return `${heading}:\n${lines.join("\n")}${rest > 0 ? `\n…and ${rest} more that did not fit in one message.` : ""}`;
}

/** One execution in full; the result is cut (with a pointer to the link) to fit `maxLength`. */
export function renderExecution(ex: Execution, maxLength: number, webUrl?: string): string {
  const lines = [`Execution ${ex.id}: ${ex.status ?? "?"}`, `  action: ${ex.action?.ref ?? "?"}`, `  by: ${whoRan(ex)}`];
  const took = typeof ex.elapsed_seconds === "number" ? ` (took ${ex.elapsed_seconds.toFixed(1)} s)` : "";
  lines.push(`  started: ${when(ex.start_timestamp)}${ex.end_timestamp ? `, ended: ${when(ex.end_timestamp)}${took}` : ""}`);
  const rerunOf = (ex.context?.["re-run"] as { ref?: unknown } | undefined)?.ref;
  if (typeof rerunOf === "string") lines.push(`  re-run of: ${rerunOf}`);
  const params = Object.entries(ex.parameters ?? {});
  lines.push(params.length ? `  parameters: ${params.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ")}` : "  parameters: none");
  const link = ex.web_url ?? webUrl;
  const tail = link ? `\n  details: ${link}` : "";
  const head = lines.join("\n");
  if (ex.result === undefined) return `${head}\n  result: none yet${tail}`;
  const result = JSON.stringify(ex.result, null, 2) ?? String(ex.result);
  const room = Math.max(200, maxLength - head.length - tail.length - 100);
  const cut = result.length > room ? `${result.slice(0, room)}\n… (${result.length - room} more characters${link ? ", see the link" : ""})` : result;
  return `${head}\n  result:\n${cut}${tail}`;
}
