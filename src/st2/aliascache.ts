/**
 * The action aliases st2bot matches against, kept current three ways: a full (paged) load at
 * start and on a timer, and `st2.actionalias__*` stream events applied at once. A failed load
 * keeps the last good set, so a StackStorm blip never leaves chat users without commands.
 */
import * as v from "valibot";
import { logger } from "../lib/log.ts";
import { St2ApiError } from "./http.ts";
import { AliasIndex } from "./aliases/index.ts";
import { ActionAliasSchema, type ActionAlias } from "./aliases/types.ts";
import { AliasCompactor } from "./aliases/compact.ts";
import { describeError } from "../lib/errors.ts";

const log = logger("st2.aliascache");

/** Where the aliases come from and how they are indexed. */
export interface AliasCacheOptions {
  /** Loads every alias (normally `client.listAliases()`). */
  load: () => Promise<ActionAlias[]>;
  /** Builds the index from a set; injectable for tests. Default `new AliasIndex(aliases)`. */
  build?: (aliases: ActionAlias[]) => AliasIndex;
}

type Change = { kind: "upsert"; alias: ActionAlias } | { kind: "delete"; key: string };

const EVENT_PREFIX = "st2.actionalias__";

/** The current alias set and its index (see the file comment for how it stays current). */
export class AliasCache {
  private current: ActionAlias[] = [];
  private built: AliasIndex;
  private loading: Promise<boolean> | undefined;
  /** Changes applied while a load is in flight, replayed onto its (older) answer. */
  private pending: Change[] | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly build: (aliases: ActionAlias[]) => AliasIndex;
  /** Keeps of each alias what st2bot reads, equal values shared (aliases/compact.ts). */
  private readonly compactor = new AliasCompactor();
  /** When the last full load succeeded; undefined until the first one does. */
  loadedAt: Date | undefined;
  /** Why the last full load failed; cleared by the next success. */
  lastError: string | undefined;

  constructor(private readonly opts: AliasCacheOptions) {
    this.build = opts.build ?? ((aliases) => new AliasIndex(aliases));
    this.built = this.build([]);
  }

  /** The index over the current set (empty before the first load). */
  get index(): AliasIndex {
    return this.built;
  }

  /** The current set, as loaded and updated by events. */
  get aliases(): readonly ActionAlias[] {
    return this.current;
  }

  /** Whether a full load is in flight (events arriving meanwhile are replayed onto its answer). */
  get refreshing(): boolean {
    return this.loading !== undefined;
  }

  /** Whether a full load has ever succeeded. */
  get loaded(): boolean {
    return this.loadedAt !== undefined;
  }

  /**
   * Loads every alias. Resolves true on success; on failure keeps the last good set, records
   * `lastError`, logs why and resolves false (never rejects). Concurrent calls share one load.
   */
  refresh(): Promise<boolean> {
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  /** Refreshes every `ms` (err-stackstorm's `timer_update`). Replaces an earlier timer. */
  startTimer(ms: number): void {
    this.stop();
    this.timer = setInterval(() => void this.refresh(), ms);
    this.timer.unref?.();
  }

  /** Stops the refresh timer; a load in flight still completes. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Applies `st2.actionalias__create|update|delete` (data: the alias). Returns true when the
   * set changed; other events and malformed data are ignored (malformed is logged).
   */
  applyEvent(name: string, data: unknown): boolean {
    if (!name.startsWith(EVENT_PREFIX)) return false;
    const kind = name.slice(EVENT_PREFIX.length);
    if (kind !== "create" && kind !== "update" && kind !== "delete") return false;
    const parsed = v.safeParse(ActionAliasSchema, data);
    if (!parsed.success) {
      log.warn(`ignored ${name}: the alias in it is malformed (${parsed.issues[0]?.message ?? "invalid"})`);
      return false;
    }
    const change: Change = kind === "delete" ? { kind: "delete", key: keyOf(parsed.output) } : { kind: "upsert", alias: this.compactor.compact(parsed.output) };
    this.pending?.push(change);
    this.current = applyChange(this.current, change);
    this.rebuild();
    log.info(`alias ${describe(parsed.output)} ${kind === "delete" ? "removed" : kind === "create" ? "added" : "updated"}`, {
      aliases: this.current.length,
    });
    return true;
  }

  private async load(): Promise<boolean> {
    this.pending = [];
    try {
      const listed = await this.opts.load();
      this.compactor.clear();
      const fresh = listed.map((a) => this.compactor.compact(a));
      // Events that arrived while loading are newer than (or as new as) the answer: replay them.
      this.current = this.pending.reduce(applyChange, fresh);
      this.rebuild();
      this.loadedAt = new Date();
      if (this.lastError) log.info("action aliases loaded again", { aliases: this.current.length });
      this.lastError = undefined;
      return true;
    } catch (err) {
      const previous = this.lastError;
      this.lastError = describeError(err);
      const kept = this.loaded ? `keeping the ${this.current.length} aliases loaded at ${this.loadedAt!.toISOString()}` : "no aliases loaded yet";
      // Once per change, not at every retry; a refused credential is the client's to report.
      const quiet = this.lastError === previous || (err instanceof St2ApiError && err.status === 401);
      log[quiet ? "debug" : "warn"](`could not load the action aliases from StackStorm (${this.lastError}); ${kept}`);
      return false;
    } finally {
      this.pending = undefined;
    }
  }

  private rebuild(): void {
    this.built = this.build(this.current);
  }
}

/** An alias's identity across events: its id, else its ref, else pack.name. */
function keyOf(alias: ActionAlias): string {
  const a = alias as { id?: unknown; ref?: unknown; pack?: unknown; name?: unknown };
  if (typeof a.id === "string" && a.id) return `id:${a.id}`;
  if (typeof a.ref === "string" && a.ref) return `ref:${a.ref}`;
  return `ref:${String(a.pack)}.${String(a.name)}`;
}

/** Whether `a` is the alias `key` names: by id, or by ref when the event carried no id. */
function sameAlias(a: ActionAlias, key: string): boolean {
  return keyOf(a) === key || `ref:${describe(a)}` === key;
}

function applyChange(list: ActionAlias[], change: Change): ActionAlias[] {
  if (change.kind === "delete") return list.filter((a) => !sameAlias(a, change.key));
  const key = keyOf(change.alias);
  const i = list.findIndex((a) => sameAlias(a, key));
  if (i < 0) return [...list, change.alias];
  const next = list.slice();
  next[i] = change.alias;
  return next;
}

/** The alias's ref, or `pack.name` when it has none. */
function describe(alias: ActionAlias): string {
  const a = alias as { ref?: unknown; pack?: unknown; name?: unknown };
  return typeof a.ref === "string" && a.ref ? a.ref : `${String(a.pack)}.${String(a.name)}`;
}
