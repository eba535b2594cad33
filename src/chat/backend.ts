/**
 * The backend seam: everything the rest of st2bot needs to know about a chat backend, declared
 * by the backend itself. Each backend's light `settings.ts` (valibot and lib only, so reading it
 * never loads an SDK) exports one `BackendInfo`; `registry.ts` adds the lazy `create`. Config
 * loading, `st2bot doctor`, `st2bot init`, `!about` and the architecture test read only these.
 */
import * as v from "valibot";
import type { Config } from "../config/schema.ts";
import { ConfigError } from "../lib/errors.ts";

/** A `[<name>]` table: a valibot strict object (unknown keys are refused with a "did you mean"). */
export type SectionSchema<S> = v.GenericSchema<unknown, S> & { readonly type: "strict_object"; readonly entries: v.ObjectEntries };

/** A hint `st2bot doctor` prints for a section that works but is probably not what was meant. */
export interface Advice {
  /** What looks wrong, in a sentence. */
  what: string;
  /** What to change in the config. */
  fix: string;
}

/**
 * A finding of a backend's live doctor check (`probe` in the registry): it talks to the service,
 * e.g. "can log in", "can join #ops". Same shape as doctor's own checks.
 */
export interface DoctorCheck {
  /** `fail` makes doctor exit non-zero; `warn` is printed only. */
  verdict: "ok" | "warn" | "fail";
  /** What was checked, and the outcome. */
  what: string;
  /** What to do about a warning or failure. */
  fix?: string;
}

/** What a backend declares about itself. `S` is its section's validated shape. */
export interface BackendInfo<S = Record<string, unknown>> {
  /** The `[bot] backend` value, the name of its `[<name>]` table, and `source_context.backend`. */
  readonly name: string;
  /** The service as a sentence names it (`Slack`, `the terminal`); `!about` lists them. */
  readonly label: string;
  /** One line saying what it connects to and how (`st2bot init` prints it above the table). */
  readonly description: string;
  /**
   * The `[<name>]` table, defaults included. A key `x` with a sibling `x_file` is a secret:
   * config loading reads `x_file` into `x` and registers `x` with the log redaction.
   */
  readonly schema: SectionSchema<S>;
  /** The commented lines `st2bot init` writes under `[<name>]` (no header). */
  readonly template: string;
  /** The npm packages only this backend's folder may import (enforced by the architecture test). */
  readonly sdks: readonly string[];
  /**
   * What is missing before the backend can start, each as the person fixes it
   * (`<name>.token or <name>.token_file`); empty when nothing is. The backend's
   * constructor (through `requireSection`) and `st2bot doctor` both use this one list.
   */
  missing(section: S): string[];
  /** Warnings for a complete section that `st2bot doctor` prints (the backend still starts). */
  advice?(section: S): Advice[];
}

/**
 * The backend's section of `config`, validated and with defaults (config loading has usually
 * done this already; a Config built by hand in a test is checked here). Throws ConfigError.
 */
export function sectionOf<S>(info: BackendInfo<S>, config: Config): S {
  const result = v.safeParse(info.schema, config[info.name] ?? {});
  if (result.success) return result.output;
  const issue = result.issues[0];
  const path = [info.name, ...(issue.path?.map((p) => String(p.key)) ?? [])].join(".");
  throw new ConfigError(`${path}: ${issue.message}`);
}

/** `sectionOf`, and a ConfigError naming every missing setting when `missing` lists any. */
export function requireSection<S>(info: BackendInfo<S>, config: Config): S {
  const section = sectionOf(info, config);
  const missing = info.missing(section);
  if (missing.length) throw new ConfigError(`the ${info.label} backend is missing settings: set ${missing.join("; ")}`);
  return section;
}

/**
 * True for an `http://` URL to anything but this machine: a backend's advice warns that its
 * credentials would cross the network in clear (a local reverse proxy or test server is fine).
 * Decided on the parsed host, so `http://localhost.example.com` is not "this machine".
 */
export function plainHttpElsewhere(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false; // not a URL: the schema says so
  }
  const local = u.hostname === "localhost" || u.hostname === "[::1]" || /^127(?:\.\d{1,3}){3}$/.test(u.hostname);
  return u.protocol === "http:" && !local;
}
