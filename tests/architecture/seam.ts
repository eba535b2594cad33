/**
 * The backend seam's check, kept apart from the test so it can be run against any tree: which
 * files outside a backend's own folder (or single file) and the registry spell out that
 * backend's settings. Each hit is a place the next backend would have to edit too.
 */

/** One source file, its path relative to src/. */
export interface Source {
  path: string;
  text: string;
}

/** A backend by name, with the keys of its `[<name>]` table. */
export interface BackendKeys {
  name: string;
  keys: string[];
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The ways code outside a backend names its settings: `slack.bot_token`, `[slack]`, `config.slack`, `slack: v.…`. */
function patterns({ name, keys }: BackendKeys): Array<[string, RegExp]> {
  const n = escape(name);
  return [
    ["a setting", new RegExp(`\\b${n}\\.(?:${keys.map(escape).join("|")})\\b`)],
    ["its TOML table", new RegExp(`(?:^|\\n)[ \\t#]*\\[${n}\\][ \\t]*(?:#|\\r?\\n|$)`)],
    ["its config section", new RegExp(`\\b[Cc]onfig(?:\\.${n}\\b|\\[["']${n}["']\\])`)],
    ["a schema entry for its table", new RegExp(`\\b${n}:\\s*v\\.optional\\(\\s*\\w*Schema\\b`)],
  ];
}

/** `path` belongs to backend `name`: its folder, its single file, or the registry. */
const owns = (path: string, name: string) =>
  path.startsWith(`chat/${name}/`) || path === `chat/${name}.ts` || path === "chat/registry.ts";

/**
 * Every place outside a backend's own files that names one of its settings, as
 * `file: what of backend (the text)`. `allowed` lists deliberate users: file → backend names.
 */
export function backendLeaks(sources: readonly Source[], backends: readonly BackendKeys[], allowed: Record<string, string[]> = {}): string[] {
  const out: string[] = [];
  for (const backend of backends) {
    const checks = patterns(backend);
    for (const { path, text } of sources) {
      if (owns(path, backend.name) || allowed[path]?.includes(backend.name)) continue;
      for (const [what, re] of checks) {
        const hit = re.exec(text);
        if (hit) out.push(`${path}: ${what} of ${backend.name} (${hit[0].trim()})`);
      }
    }
  }
  return out;
}
