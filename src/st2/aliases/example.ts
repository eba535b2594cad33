/**
 * Commands built from a format's regex, for tests, benchmarks and help examples: text the
 * pattern matches, with chosen values in the format's `{{ }}` parameters.
 */
import { emitNode } from "./pyregex/emit.ts";
import type { PyFlags, PyNode, PyParsed, PySeq } from "./pyregex/ast.ts";

/**
 * Text `parsed` matches: groups named after a format field take `sample(name, i)`, optional
 * parts appear only when they hold a field, alternations take their first branch.
 */
export function exampleText(parsed: PyParsed, fields: ReadonlySet<string>, sample: (name: string, index: number) => string): string {
  return new ExampleRenderer(parsed.names, fields, parsed.flags, sample).seq(parsed.ast);
}

class ExampleRenderer {
  private readonly texts = new Map<number, string>();
  private count = 0;

  constructor(
    private readonly names: Map<number, string>,
    private readonly fields: ReadonlySet<string>,
    private readonly flags: PyFlags,
    private readonly sample: (name: string, index: number) => string,
  ) {}

  seq(nodes: PySeq): string {
    return nodes.map((n) => this.node(n)).join("");
  }

  private node(n: PyNode): string {
    switch (n.t) {
      case "lit":
        return String.fromCodePoint(n.cp);
      case "any":
        return "x";
      case "set":
        return this.setMember(n);
      case "group":
        return this.group(n);
      case "alt":
        return this.seq(n.branches[0] ?? []);
      case "repeat": {
        const times = n.min > 0 ? n.min : n.max > 0 && this.holdsField(n.body) ? 1 : 0;
        return Array.from({ length: times }, () => this.node(n.body)).join("");
      }
      case "ref":
        return this.texts.get(n.index) ?? "";
      default:
        return "";
    }
  }

  private group(n: Extract<PyNode, { t: "group" }>): string {
    const name = n.index === null ? undefined : this.names.get(n.index);
    const text = name !== undefined && this.fields.has(name) ? this.sample(name, this.count++) : this.seq(n.body);
    if (n.index !== null) this.texts.set(n.index, text);
    return text;
  }

  private holdsField(n: PyNode): boolean {
    if (n.t === "group") {
      const name = n.index === null ? undefined : this.names.get(n.index);
      return (name !== undefined && this.fields.has(name)) || n.body.some((c) => this.holdsField(c));
    }
    if (n.t === "alt") return n.branches.some((b) => b.some((c) => this.holdsField(c)));
    if (n.t === "repeat") return this.holdsField(n.body);
    return false;
  }

  private setMember(n: Extract<PyNode, { t: "set" }>): string {
    const re = new RegExp(`^${emitNode(n, this.flags)}$`, "u");
    const first = n.items[0];
    const preferred = !n.neg && first?.k === "cp" ? String.fromCodePoint(first.cp) : !n.neg && first?.k === "range" ? String.fromCodePoint(first.lo) : "";
    for (const c of [preferred, "x", "a", "0", "-", "_", "Z", " "]) if (c && re.test(c)) return c;
    return "x";
  }
}
