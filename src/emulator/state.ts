/**
 * What the emulated StackStorm holds: users and credentials, aliases, actions, executions.
 * Plain in-memory maps; routes read and change them, the handle exposes them to tests.
 */
import { AliasEngine } from "./engine.ts";
import { Fault, objectId } from "./http.ts";
import type {
  ActionSpec,
  AliasInput,
  CredentialUse,
  EmulatedExecution,
  EmulatorOptions,
  IssuedToken,
  StoredAlias,
} from "./types.ts";

/** Fills in what StackStorm computes for an alias: id, ref, uid, enabled, description. */
export function storeAlias(input: AliasInput, previous?: StoredAlias): StoredAlias {
  return {
    ...input,
    id: input.id ?? previous?.id ?? objectId(),
    ref: `${input.pack}.${input.name}`,
    uid: `action_alias:${input.pack}:${input.name}`,
    enabled: input.enabled ?? true,
    description: input.description ?? "",
    formats: input.formats ?? [],
  };
}

export class EmulatorState {
  readonly users: Record<string, string>;
  readonly apiKeys: Map<string, string>;
  readonly admins: Set<string>;
  readonly tokens: IssuedToken[] = [];
  readonly executions: EmulatedExecution[] = [];
  readonly actions = new Map<string, ActionSpec>();
  private aliasList: StoredAlias[] = [];
  private engineCache: AliasEngine | undefined;

  constructor(readonly opts: EmulatorOptions) {
    this.users = opts.users ?? { st2admin: "Ch@ngeMe" };
    const keys = opts.apiKeys ?? [];
    this.apiKeys = new Map(Array.isArray(keys) ? keys.map((k) => [k, "st2admin"]) : Object.entries(keys));
    this.admins = new Set(opts.admins ?? ["st2admin"]);
    for (const action of opts.actions ?? []) this.actions.set(action.ref, action);
    this.setAliases(opts.aliases ?? []);
  }

  // ---- aliases ----

  /** Aliases sorted as StackStorm lists them (by pack, then name). */
  get aliases(): readonly StoredAlias[] {
    return this.aliasList;
  }

  /** The alias engine over the current set, rebuilt lazily after a change. */
  get engine(): AliasEngine {
    this.engineCache ??= new AliasEngine(this.aliasList);
    return this.engineCache;
  }

  setAliases(inputs: AliasInput[]): StoredAlias[] {
    this.aliasList = inputs.map((a) => storeAlias(a));
    this.sortAliases();
    return this.aliasList;
  }

  addAlias(input: AliasInput): StoredAlias {
    const stored = storeAlias(input);
    this.aliasList.push(stored);
    this.sortAliases();
    return stored;
  }

  /** Replaces the alias with the same id, else the same ref. */
  updateAlias(input: AliasInput): StoredAlias {
    const ref = `${input.pack}.${input.name}`;
    const index = this.aliasList.findIndex((a) => (input.id ? a.id === input.id : a.ref === ref));
    if (index < 0) throw new Error(`no alias ${input.id ?? ref} to update`);
    const stored = storeAlias(input, this.aliasList[index]);
    this.aliasList[index] = stored;
    this.sortAliases();
    return stored;
  }

  deleteAlias(refOrId: string): StoredAlias {
    const alias = this.findAlias(refOrId);
    if (!alias) throw new Error(`no alias ${refOrId} to delete`);
    this.aliasList = this.aliasList.filter((a) => a !== alias);
    this.engineCache = undefined;
    return alias;
  }

  /** By ref (`pack.name`, which always has a dot) or by id, as StackStorm resolves `ref_or_id`. */
  findAlias(refOrId: string): StoredAlias | undefined {
    return refOrId.includes(".")
      ? this.aliasList.find((a) => a.ref === refOrId)
      : this.aliasList.find((a) => a.id === refOrId);
  }

  private sortAliases(): void {
    // Mongo sorts by code point, not by locale.
    const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
    this.aliasList.sort((a, b) => cmp(a.pack, b.pack) || cmp(a.name, b.name));
    this.engineCache = undefined;
  }

  // ---- credentials ----

  issueToken(user: string, ttlSeconds: number): IssuedToken {
    const token: IssuedToken = {
      id: objectId(),
      token: crypto.randomUUID().replaceAll("-", ""),
      user,
      expiry: new Date(Date.now() + ttlSeconds * 1000),
    };
    this.tokens.push(token);
    return token;
  }

  /** Every token issued so far stops working (as if its expiry had passed). */
  expireTokens(): void {
    const past = new Date(Date.now() - 1000);
    for (const t of this.tokens) t.expiry = past;
  }

  /** Resolves a token to its user, or throws StackStorm's 401. */
  userForToken(value: string): string {
    const token = this.tokens.find((t) => t.token === value);
    if (!token) throw new Fault(401, "Unauthorized");
    if (token.expiry.getTime() <= Date.now()) throw new Fault(401, "Unauthorized - Token has expired.");
    return token.user;
  }

  /** Resolves an API key to its user, or throws StackStorm's 401 (which names the key's hash). */
  userForApiKey(value: string): string {
    const user = this.apiKeys.get(value);
    if (user === undefined) {
      const hash = new Bun.CryptoHasher("sha256").update(value).digest("hex");
      throw new Fault(401, `Unauthorized - ApiKey with key_hash=${hash} not found.`);
    }
    return user;
  }

  isAdmin(credential: CredentialUse): boolean {
    return credential.user !== undefined && this.admins.has(credential.user);
  }

  // ---- actions and executions ----

  /** The action an alias points at; unknown refs behave as a generic python action. */
  action(ref: string): ActionSpec {
    return this.actions.get(ref) ?? { ref, runner: "python-script" };
  }

  /**
   * An action StackStorm has registered, for `POST /executions`: one of `opts.actions`, or one an
   * alias points at (the demo's aliases name actions it does not describe). Undefined otherwise.
   */
  registeredAction(ref: string): ActionSpec | undefined {
    if (this.actions.has(ref)) return this.actions.get(ref);
    return this.aliasList.some((a) => a.action_ref === ref) ? this.action(ref) : undefined;
  }

  execution(id: string): EmulatedExecution | undefined {
    return this.executions.find((e) => e.id === id);
  }
}
