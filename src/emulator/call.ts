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
  /** The HTTP method, upper case. */
  method: string;
  /** The URL path (`/api/v1/…`). */
  path: string;
  /** The query string's parameters (the last value of a repeated one). */
  query: Record<string, string>;
  /** The parsed JSON body (undefined for GET and HEAD). */
  body: unknown;
  /** Set when the body could not be read: the router answers 400 with it after the auth check. */
  bodyError?: string;
  /** The `Authorization` header (Basic auth for the token endpoint). */
  authorization: string | null;
  /** The credential the request presented; a secured route authenticates it before its handler runs. */
  credential?: CredentialUse;
}

/** What the route handlers need from the emulator. */
export interface RouteDeps {
  /** Aliases, actions, tokens, executions: what the emulated StackStorm holds. */
  state: EmulatorState;
  /** Creates and advances executions (and publishes their stream events). */
  executions: Executions;
  /** The emulator's options, read at call time (RBAC predicate, token TTL cap, rules). */
  opts: EmulatorOptions;
}
