/**
 * Loads action aliases from YAML files, the way they sit in packs: a file may hold several
 * `---` documents; folders are read recursively for `.yaml`/`.yml`. A file without `pack`
 * takes it from where it lives (`packs/<pack>/aliases/x.yaml`, or `<pack>/x.yaml`).
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, extname, join, resolve, sep } from "node:path";
import * as v from "valibot";
import { parseAllDocuments } from "yaml";
import { ActionAliasSchema, type ActionAlias } from "./types.ts";
import { describeError } from "../../lib/errors.ts";

export interface AliasLoadError {
  file: string;
  reason: string;
}

export interface AliasLoadResult {
  aliases: ActionAlias[];
  errors: AliasLoadError[];
}

const ALIAS_EXTENSIONS = new Set([".yaml", ".yml"]);

/** Reads every alias in the given files and folders; problems are collected, not thrown. */
export async function loadAliasFiles(paths: readonly string[]): Promise<AliasLoadResult> {
  const result: AliasLoadResult = { aliases: [], errors: [] };
  for (const path of paths) {
    const files = await listFiles(path, result.errors);
    for (const file of files) await loadFile(file, result);
  }
  return result;
}

/** A file as given (whatever its extension), or a folder's alias files, sorted. */
async function listFiles(path: string, errors: AliasLoadError[]): Promise<string[]> {
  try {
    const info = await stat(path);
    if (!info.isDirectory()) return [path];
    const entries = await readdir(path, { recursive: true, withFileTypes: true });
    return entries
      .filter((e) => e.isFile() && ALIAS_EXTENSIONS.has(extname(e.name).toLowerCase()))
      .map((e) => join(e.parentPath, e.name))
      .sort();
  } catch (err) {
    errors.push({ file: path, reason: describeIoError(err) });
    return [];
  }
}

async function loadFile(file: string, result: AliasLoadResult): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    result.errors.push({ file, reason: describeIoError(err) });
    return;
  }
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return; // an empty file: no documents
  docs.forEach((doc, i) => {
    const where = docs.length > 1 ? `${file} (document ${i + 1})` : file;
    const syntax = doc.errors[0];
    if (syntax) {
      result.errors.push({ file: where, reason: `YAML: ${syntax.message.split("\n")[0]!.replace(/:\s*$/, "")}` });
      return;
    }
    const data: unknown = doc.toJS();
    if (data === null || data === undefined) return; // an empty document (a trailing ---)
    const alias = toAlias(data, file);
    if (typeof alias === "string") result.errors.push({ file: where, reason: alias });
    else result.aliases.push(alias);
  });
}

/** Validates one document; returns the alias or the reason it is not one. */
function toAlias(data: unknown, file: string): ActionAlias | string {
  if (typeof data !== "object" || Array.isArray(data)) return "not an action alias (expected a mapping)";
  const record = data as Record<string, unknown>;
  const pack = typeof record["pack"] === "string" && record["pack"] ? record["pack"] : packFromPath(file);
  const parsed = v.safeParse(ActionAliasSchema, { ...record, pack });
  if (!parsed.success) return parsed.issues.map(describeIssue).join("; ");
  // Files carry no ref: it is always <pack>.<name>, whatever a stray `ref:` says.
  return { ...parsed.output, ref: `${parsed.output.pack}.${parsed.output.name}` };
}

/** `…/<pack>/aliases/…/x.yaml` → pack; otherwise the folder holding the file. */
export function packFromPath(file: string): string {
  const parts = resolve(file).split(sep);
  const aliases = parts.lastIndexOf("aliases", parts.length - 2);
  if (aliases > 0) return parts[aliases - 1] ?? "";
  return basename(dirname(resolve(file)));
}

function describeIssue(issue: v.BaseIssue<unknown>): string {
  const path = issue.path?.map((p) => String(p.key)).join(".");
  return path ? `${path}: ${issue.message}` : issue.message;
}

function describeIoError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === "ENOENT") return "no such file or folder";
  if (e.code === "EACCES") return "permission denied";
  return describeError(err);
}
