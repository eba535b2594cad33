/**
 * The chatops pack's `post_result`, as text: the default result template
 * (`contrib/chatops/actions/templates/default.j2`, rendered with trim_blocks and lstrip_blocks),
 * reproduced byte for byte, and the alias's own `result.format` / `result.extra` when it has them.
 */
import { renderTemplate, renderValues } from "./jinja.ts";
import { pyStr, pyTruthy, toHumanTime } from "./python.ts";
import { isRecord } from "../lib/json.ts";

/** The fields of an execution the template reads (the API's execution object). */
export interface ExecutionView {
  id: string;
  action: { ref: string; [key: string]: unknown };
  runner: { name: string; [key: string]: unknown };
  status: string;
  web_url?: string;
  elapsed_seconds?: number;
  result?: unknown;
  [key: string]: unknown;
}

const SHELL_KEYS = ["stdout", "stderr", "return_code", "error"];
const PYTHON_KEYS = ["result", "stdout", "stderr", "exit_code"];

/** The message StackStorm's default template renders for a finished execution. */
export function defaultResultMessage(execution: ExecutionView): string {
  let out = `\nAction ${execution.action.ref} completed.\nstatus : ${execution.status}\nexecution: ${execution.id}\n\n`;
  if (execution.web_url) out += `web_url: ${execution.web_url}\n`;
  out += "\n";
  if (pyTruthy(execution.elapsed_seconds)) out += `Took ${toHumanTime(execution.elapsed_seconds!)} to complete.\n`;
  out += "\n";
  if (pyTruthy(execution.result)) out += "result :\n--------\n" + resultBody(execution.runner.name, execution.result);
  return out;
}

function resultBody(runner: string, result: unknown): string {
  if (!isRecord(result)) return pyStr(result) + "\n";
  if (["run-python", "python-script", "windows-cmd", "windows-script"].includes(runner)) {
    return serialize(pick(result, PYTHON_KEYS)) + "\n";
  }
  if (["remote-shell-cmd", "remote-shell-script"].includes(runner)) {
    return Object.entries(result)
      .map(([host, value]) => `${host} : \n${serialize(pick(isRecord(value) ? value : {}, SHELL_KEYS), "  ")}\n`)
      .join("");
  }
  if (["local-shell-cmd", "local-shell-script"].includes(runner)) return serialize(pick(result, SHELL_KEYS)) + "\n";
  return serialize(Object.entries(result)) + "\n";
}

/** The template's `selectattr('0', 'in', keys) | selectattr('1')`: listed keys with truthy values. */
function pick(result: Record<string, unknown>, keys: string[]): [string, unknown][] {
  return Object.entries(result).filter(([k, v]) => keys.includes(k) && pyTruthy(v));
}

/** The template's `serialize` macro. */
function serialize(items: [string, unknown][], prefix = ""): string {
  let out = "";
  for (const [key, value] of items) {
    out += `${prefix}${key} : `;
    if (isRecord(value)) out += "\n" + serialize(Object.entries(value), prefix + "  ");
    else if (typeof value === "string" && value.trim().split("\n").length > 1) {
      out += `      \n${prefix}  ${value.trim()}\n`;
    } else out += pyStr(value).trim() + "\n";
  }
  return out;
}

/** What an alias says about results: `{enabled?, format?, extra?}`. */
export interface ResultSpec {
  enabled?: boolean | null;
  format?: string | null;
  extra?: Record<string, unknown> | null;
}

/**
 * The `post_message` payload text and extra for a finished execution, or null when the alias
 * disables results. Custom formats render with undefined names as empty text, as
 * `format_execution_result` does (allow_undefined).
 */
export function resultMessage(
  execution: ExecutionView,
  alias: Record<string, unknown> | undefined,
  spec: ResultSpec | null | undefined,
): { message: string; extra?: unknown } | null {
  if (spec && spec.enabled === false) return null;
  const context = { execution, alias };
  const message = typeof spec?.format === "string" ? renderTemplate(spec.format, context, false) : defaultResultMessage(execution);
  const extra = spec?.extra ? renderValues(spec.extra, context, false) : undefined;
  return extra === undefined ? { message } : { message, extra };
}
