/**
 * What every emulated endpoint receives: the parsed request (`Call`) and the emulator's parts
 * (`RouteDeps`). Kept apart from routes.ts so the per-resource route modules need not import
 * the table that registers them.
 */
import type { Executions } from "./executions.ts";
import type { EmulatorState } from "./state.ts";
import type { CredentialUse, EmulatorOptions } from "./types.ts";

/** One parsed request as the routes see it. */
export interface Call {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  bodyError?: string;
  authorization: string | null;
  /** Set by the router before a secured handler runs: who is calling, and how. */
  credential?: CredentialUse;
}

/** What the route handlers need from the emulator. */
export interface RouteDeps {
  state: EmulatorState;
  executions: Executions;
  /** The emulator's options, read at call time (RBAC predicate, token TTL cap, rules). */
  opts: EmulatorOptions;
}
