/**
 * A small Jinja subset, enough for the `ack.format`, `ack.extra`, `result.format` and
 * `result.extra` templates aliases carry: `{{ path | filter }}`, `{% if %}/{% elif %}/{% else %}`,
 * `{% for x in path %}`, comments, `-` whitespace control, and StackStorm's environment
 * settings (trim_blocks, lstrip_blocks). Values print as Python would (`True`, `None`, `['a']`).
 * Unknown filters pass values through; unknown tags render nothing.
 */
import { pyStr, pyTruthy } from "./python.ts";

/** Thrown in strict mode for an undefined name or attribute; the text is Jinja's own. */
export class UndefinedError extends Error {}

class Undefined {
  constructor(readonly hint: string) {}
}

type Node =
  | { t: "text"; text: string }
  | { t: "out"; expr: string }
  | { t: "if"; branches: { cond: string; body: Node[] }[]; orElse: Node[] }
  | { t: "for"; name: string; iter: string; body: Node[] };

interface Tag {
  kind: "out" | "stmt" | "comment";
  body: string;
  trimLeft: boolean;
  trimRight: boolean;
}

/** Renders `template` with `context`. `strict` is StackStorm's StrictUndefined (ack rendering). */
export function renderTemplate(template: string, context: Record<string, unknown>, strict: boolean): string {
  const nodes = parse(lex(template));
  return renderNodes(nodes, new Scope(context, strict));
}

/** Renders every string in a JSON-ish value (st2's `render_values` for `extra` blocks). */
export function renderValues(value: unknown, context: Record<string, unknown>, strict: boolean): unknown {
  if (typeof value === "string") return value.includes("{") ? renderTemplate(value, context, strict) : value;
  if (Array.isArray(value)) return value.map((v) => renderValues(v, context, strict));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderValues(v, context, strict)]));
  }
  return value;
}

// ---- lexing with StackStorm's whitespace rules ----

function lex(src: string): (string | Tag)[] {
  const parts: (string | Tag)[] = [];
  const re = /\{(\{|%|#)(-?)([\s\S]*?)(-?)(\}|%|#)\}/g;
  let last = 0;
  for (let m = re.exec(src); m; m = re.exec(src)) {
    parts.push(src.slice(last, m.index));
    const kind = m[1] === "{" ? "out" : m[1] === "%" ? "stmt" : "comment";
    parts.push({ kind, body: (m[3] ?? "").trim(), trimLeft: m[2] === "-", trimRight: m[4] === "-" });
    last = re.lastIndex;
  }
  parts.push(src.slice(last));
  return applyWhitespace(parts);
}

function applyWhitespace(parts: (string | Tag)[]): (string | Tag)[] {
  for (let i = 1; i < parts.length; i += 2) {
    const tag = parts[i] as Tag;
    const before = parts[i - 1] as string;
    const after = parts[i + 1] as string;
    const isBlock = tag.kind !== "out";
    if (tag.trimLeft) parts[i - 1] = before.replace(/\s+$/, "");
    // lstrip_blocks: only whitespace that starts a line (the template's first text starts one)
    else if (isBlock) parts[i - 1] = before.replace(i === 1 ? /(^|\n)[ \t]+$/ : /(\n)[ \t]+$/, "$1");
    if (tag.trimRight) parts[i + 1] = after.replace(/^\s+/, "");
    else if (isBlock) parts[i + 1] = after.replace(/^\r?\n/, ""); // trim_blocks
  }
  return parts;
}

// ---- parsing ----

function parse(parts: (string | Tag)[]): Node[] {
  let pos = 0;
  const block = (ends: string[]): { nodes: Node[]; end: string } => {
    const nodes: Node[] = [];
    while (pos < parts.length) {
      const part = parts[pos++]!;
      if (typeof part === "string") {
        if (part) nodes.push({ t: "text", text: part });
        continue;
      }
      if (part.kind === "comment") continue;
      if (part.kind === "out") {
        nodes.push({ t: "out", expr: part.body });
        continue;
      }
      const word = part.body.split(/\s+/, 1)[0] ?? "";
      if (ends.includes(word)) return { nodes, end: part.body };
      if (word === "if") nodes.push(parseIf(part.body.slice(2).trim()));
      else if (word === "for") nodes.push(parseFor(part.body));
    }
    return { nodes, end: "" };
  };
  const parseIf = (cond: string): Node => {
    const branches: { cond: string; body: Node[] }[] = [];
    let orElse: Node[] = [];
    let current = cond;
    for (;;) {
      const { nodes, end } = block(["elif", "else", "endif"]);
      branches.push({ cond: current, body: nodes });
      if (end.startsWith("elif")) current = end.slice(4).trim();
      else {
        if (end === "else") orElse = block(["endif"]).nodes;
        break;
      }
    }
    return { t: "if", branches, orElse };
  };
  const parseFor = (stmt: string): Node => {
    const m = /^for\s+(\w+)\s+in\s+(.+)$/.exec(stmt);
    const body = block(["endfor"]).nodes;
    return m ? { t: "for", name: m[1]!, iter: m[2]!, body } : { t: "text", text: "" };
  };
  return block([]).nodes;
}

// ---- evaluation ----

class Scope {
  constructor(
    readonly vars: Record<string, unknown>,
    readonly strict: boolean,
  ) {}
  child(name: string, value: unknown): Scope {
    return new Scope({ ...this.vars, [name]: value }, this.strict);
  }
}

function renderNodes(nodes: Node[], scope: Scope): string {
  let out = "";
  for (const node of nodes) {
    if (node.t === "text") out += node.text;
    else if (node.t === "out") out += print(evaluate(node.expr, scope), scope);
    else if (node.t === "if") {
      const hit = node.branches.find((b) => truthy(evaluate(b.cond, scope), scope));
      out += renderNodes(hit ? hit.body : node.orElse, scope);
    } else {
      const items = evaluate(node.iter, scope);
      const list = Array.isArray(items) ? items : items && typeof items === "object" ? Object.keys(items) : [];
      for (const item of list) out += renderNodes(node.body, scope.child(node.name, item));
    }
  }
  return out;
}

function print(value: unknown, scope: Scope): string {
  if (value instanceof Undefined) {
    if (scope.strict) throw new UndefinedError(value.hint);
    return "";
  }
  return pyStr(value);
}

function truthy(value: unknown, scope: Scope): boolean {
  if (value instanceof Undefined) {
    if (scope.strict) throw new UndefinedError(value.hint);
    return false;
  }
  return pyTruthy(value);
}

/** Evaluates an expression: or/and/not, ==, !=, in, literals, paths and filters. */
function evaluate(expr: string, scope: Scope): unknown {
  const or = splitTop(expr, " or ");
  if (or.length > 1) return or.some((e) => truthy(evaluate(e, scope), scope));
  const and = splitTop(expr, " and ");
  if (and.length > 1) return and.every((e) => truthy(evaluate(e, scope), scope));
  const trimmed = expr.trim();
  if (trimmed.startsWith("not ")) return !truthy(evaluate(trimmed.slice(4), scope), scope);
  for (const op of ["==", "!=", " not in ", " in "]) {
    const sides = splitTop(trimmed, op);
    if (sides.length === 2) return compare(op.trim(), evaluate(sides[0]!, scope), evaluate(sides[1]!, scope));
  }
  const [head, ...filters] = splitTop(trimmed, "|");
  let value = term(head!.trim(), scope);
  for (const f of filters) value = applyFilter(f.trim(), value, scope);
  return value;
}

function compare(op: string, a: unknown, b: unknown): boolean {
  if (op === "==") return JSON.stringify(a) === JSON.stringify(b);
  if (op === "!=") return JSON.stringify(a) !== JSON.stringify(b);
  const inside = Array.isArray(b) ? b.includes(a) : typeof b === "string" ? b.includes(String(a)) : b && typeof b === "object" ? String(a) in b : false;
  return op === "in" ? Boolean(inside) : !inside;
}

function term(src: string, scope: Scope): unknown {
  if (/^(['"]).*\1$/s.test(src)) return src.slice(1, -1);
  if (/^-?\d+(\.\d+)?$/.test(src)) return Number(src);
  if (/^(true|True)$/.test(src)) return true;
  if (/^(false|False)$/.test(src)) return false;
  if (/^(none|None)$/.test(src)) return null;
  if (src.startsWith("[") && src.endsWith("]")) return splitTop(src.slice(1, -1), ",").filter((s) => s.trim()).map((s) => evaluate(s, scope));
  if (src.startsWith("(") && src.endsWith(")")) return evaluate(src.slice(1, -1), scope);
  return lookup(src, scope);
}

function lookup(path: string, scope: Scope): unknown {
  const steps = path.match(/[A-Za-z_]\w*|\[[^\]]*\]/g) ?? [];
  const [first, ...rest] = steps;
  if (!first) return new Undefined(`'${path}' is undefined`);
  let value: unknown = first in scope.vars ? scope.vars[first] : new Undefined(`'${first}' is undefined`);
  for (const step of rest) {
    if (value instanceof Undefined) {
      if (scope.strict) throw new UndefinedError(value.hint);
      return value;
    }
    const key = step.startsWith("[") ? String(term(step.slice(1, -1).trim(), scope)) : step;
    value = attribute(value, key);
  }
  return value;
}

function attribute(value: unknown, key: string): unknown {
  if (value && typeof value === "object" && key in value) return (value as Record<string, unknown>)[key];
  return new Undefined(`'${pyTypeName(value)} object' has no attribute '${key}'`);
}

function pyTypeName(value: unknown): string {
  if (value === null || value === undefined) return "NoneType";
  if (Array.isArray(value)) return "list";
  if (typeof value === "object") return "dict";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  return typeof value === "boolean" ? "bool" : "str";
}

function applyFilter(src: string, value: unknown, scope: Scope): unknown {
  const m = /^(\w+)\s*(?:\((.*)\))?$/s.exec(src);
  if (!m) return value;
  const args = m[2] ? splitTop(m[2], ",").map((a) => evaluate(a, scope)) : [];
  switch (m[1]) {
    case "default":
    case "d":
      return value instanceof Undefined || (args[1] === true && !pyTruthy(value)) ? args[0] ?? "" : value;
    case "trim":
      return pyStr(value).trim();
    case "upper":
      return pyStr(value).toUpperCase();
    case "lower":
      return pyStr(value).toLowerCase();
    case "string":
      return pyStr(value);
    case "length":
    case "count":
      return Array.isArray(value) || typeof value === "string" ? value.length : value && typeof value === "object" ? Object.keys(value).length : 0;
    case "join":
      return Array.isArray(value) ? value.map(pyStr).join(String(args[0] ?? "")) : value;
    case "to_json_string":
    case "tojson":
      return JSON.stringify(value);
    default:
      return value;
  }
}

/** Splits on `sep` outside quotes and brackets. */
function splitTop(src: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = "";
  let start = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === "'" || c === '"') quote = c;
    else if ("([{".includes(c)) depth++;
    else if (")]}".includes(c)) depth--;
    else if (depth === 0 && src.startsWith(sep, i)) {
      out.push(src.slice(start, i));
      i += sep.length - 1;
      start = i + 1;
    }
  }
  out.push(src.slice(start));
  return out;
}
