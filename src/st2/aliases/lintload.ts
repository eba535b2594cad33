/**
 * What `st2bot alias lint` reads: action aliases with the file and line of each alias and of
 * each of its formats, and the action metadata of the packs given (`actions/*.yaml`), so
 * findings point at the line to fix. Pack folders, folders of packs and single files alike.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, extname, join, relative, resolve, sep } from "node:path";
import * as v from "valibot";
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document } from "yaml";
import { packFromPath } from "./load.ts";
import { ActionAliasSchema, type ActionAlias } from "./types.ts";
import { isRecord } from "../../lib/json.ts";
import { describeError } from "../../lib/errors.ts";

/** An alias and where it is written. */
export interface LocatedAlias {
  alias: ActionAlias;
  file: string;
  /** The line of its `name:` (else of the document's start), 1-based. */
  line: number;
  /** The line of each `formats` entry, parallel to `alias.formats`. */
  formatLines: number[];
}

/** An action's metadata, as far as linting aliases goes. */
export interface ActionMeta {
  ref: string;
  runner: string | undefined;
  parameters: ReadonlySet<string>;
}

/** Something that could not be read, where. */
export interface LintLoadError {
  file: string;
  line: number;
  reason: string;
}

export interface LintInput {
  aliases: LocatedAlias[];
  actions: Map<string, ActionMeta>;
  errors: LintLoadError[];
}

const YAML_EXT = new Set([".yaml", ".yml"]);

/** Reads the aliases and action metadata under `paths` (files, pack folders, folders of packs). */
export async function readLintInput(paths: readonly string[]): Promise<LintInput> {
  const out: LintInput = { aliases: [], actions: new Map(), errors: [] };
  for (const path of paths) {
    let files: { file: string; given: boolean }[];
    try {
      files = (await stat(path)).isDirectory() ? (await yamlFiles(path)).map((file) => ({ file, given: false })) : [{ file: path, given: true }];
    } catch (err) {
      out.errors.push({ file: path, line: 1, reason: (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or folder" : String(err) });
      continue;
    }
    for (const { file, given } of files) await readOne(file, given, kindOf(path, file), out);
  }
  return out;
}

async function yamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && YAML_EXT.has(extname(e.name).toLowerCase())).map((e) => join(e.parentPath, e.name)).sort();
}

/**
 * `<pack>/actions/x.yaml` (not its workflows/ below): action metadata; below an `aliases`
 * folder (the given folder, or one inside it): aliases; anything else is read only if it looks
 * like an alias. Only folders from `root` down count: where the checkout lives does not.
 */
function kindOf(root: string, file: string): "action" | "alias" | "other" {
  if (basename(dirname(resolve(file))) === "actions") return "action";
  const folders = [basename(resolve(root)), ...relative(resolve(root), resolve(file)).split(sep).slice(0, -1)];
  return folders.includes("aliases") ? "alias" : "other";
}

async function readOne(file: string, given: boolean, kind: ReturnType<typeof kindOf>, out: LintInput): Promise<void> {
  const text = await readFile(file, "utf8").catch((err) => {
    out.errors.push({ file, line: 1, reason: describeError(err) });
    return undefined;
  });
  if (text === undefined) return;
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines });
  if (!Array.isArray(docs)) return;
  const lineAt = (offset: number | undefined) => (offset === undefined ? 1 : lines.linePos(offset).line);
  for (const doc of docs) {
    const syntax = doc.errors[0];
    if (syntax) {
      out.errors.push({ file, line: lineAt(syntax.pos[0]), reason: `YAML: ${syntax.message.split("\n")[0]}` });
      continue;
    }
    const data: unknown = doc.toJS();
    if (typeof data !== "object" || data === null || Array.isArray(data)) continue;
    const record = data as Record<string, unknown>;
    if (kind === "action" && typeof record.runner_type === "string") {
      addAction(record, file, out);
      continue;
    }
    // In a folder, only what looks like an alias is one (packs hold rules, sensors, configs too).
    if (!given && kind !== "alias" && !("action_ref" in record) && !("formats" in record)) continue;
    const pack = typeof record.pack === "string" && record.pack ? record.pack : packFromPath(file);
    const parsed = v.safeParse(ActionAliasSchema, { ...record, pack });
    const line = lineAt(keyOffset(doc, "name") ?? doc.range[0]);
    if (!parsed.success) {
      const issue = parsed.issues[0];
      const where = issue?.path?.map((p) => String(p.key)).join(".");
      out.errors.push({ file, line, reason: `not a valid action alias: ${where ? `${where}: ` : ""}${issue?.message ?? "invalid"}` });
      continue;
    }
    const alias = { ...parsed.output, ref: `${parsed.output.pack}.${parsed.output.name}` };
    out.aliases.push({ alias, file, line, formatLines: formatLines(doc, alias.formats.length, line, lineAt) });
  }
}

function addAction(record: Record<string, unknown>, file: string, out: LintInput): void {
  const parts = resolve(file).split(sep);
  const pack = typeof record.pack === "string" && record.pack ? record.pack : (parts.at(-3) ?? "");
  if (typeof record.name !== "string") return;
  const params = record.parameters;
  const names = isRecord(params) ? Object.keys(params) : [];
  const ref = `${pack}.${record.name}`;
  out.actions.set(ref, { ref, runner: record.runner_type as string, parameters: new Set(names) });
}

/** The offset of the key `key` of the document's top-level mapping. */
function keyOffset(doc: Document, key: string): number | undefined {
  const map = doc.contents;
  if (!isMap(map)) return undefined;
  const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
  return pair && isScalar(pair.key) ? pair.key.range?.[0] : undefined;
}

function formatLines(doc: Document, count: number, fallback: number, lineAt: (offset: number | undefined) => number): number[] {
  const node = doc.get("formats", true);
  const items = isSeq(node) ? node.items : [];
  return Array.from({ length: count }, (_, i) => {
    const item = items[i] as { range?: [number, number, number] } | undefined;
    return item?.range ? lineAt(item.range[0]) : fallback;
  });
}
