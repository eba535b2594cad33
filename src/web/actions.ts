/**
 * `POST /chatops/action`: where a chat service posts a click on one of st2bot's buttons
 * (Mattermost's interactive messages: `integration.url`). The web server only reads the body;
 * the chat backend authenticates the click by its single-use token and answers (its
 * `handleAction`), so nothing here knows a service's payloads.
 *
 * Order of checks: an address with too many unrecognised requests (429, with Retry-After) →
 * size (413) → content type (415) → JSON (400) → the backend recognises the request (else 400,
 * counted against the address) → its answer (200). No bearer credential: the service cannot send one; the
 * per-choice token (256 random bits, kept hashed, spent once answered) is the credential.
 */
import { Elysia } from "elysia";
import { logger } from "../lib/log.ts";
import { decodeJson, isJson, readLimited } from "./body.ts";
import { SlidingWindow } from "./limits.ts";
import { peerAddress } from "./server.ts";

const log = logger("web.actions");

/** A click request is a few hundred bytes; anything near this is not one. */
const MAX_BODY_BYTES = 16 * 1024;

/** The path chat services post clicks to (the backend setting naming st2bot's click URL points here). */
export const ACTION_PATH = "/chatops/action";

/** What the route needs: the backend's click handler (`ChatBackend.handleAction`). */
export interface ActionRouteOptions {
  handle(body: unknown): Promise<Record<string, unknown> | undefined>;
  /** The client's address (default: the server's `peerAddress`), for throttling bad requests. */
  peerAddress?: (request: Request) => string | undefined;
  /** Unrecognised requests per address per minute before it gets 429 (default 30). */
  failuresPerMinute?: number;
  /** Milliseconds since the epoch; injected for tests. */
  clock?: () => number;
}

/** The click route (see the file comment). */
export function actionsPlugin(opts: ActionRouteOptions) {
  const addressOf = opts.peerAddress ?? peerAddress;
  const now = opts.clock ?? Date.now;
  // Each unrecognised request may cost the backend a look-up at the chat service (the post).
  const failures = new SlidingWindow(opts.failuresPerMinute ?? 30, 60_000);
  return new Elysia({ name: "st2bot.actions" }).post(ACTION_PATH, async ({ request, set }) => {
    const address = addressOf(request) ?? "in-process";
    const wait = failures.blocked(address, now());
    if (wait !== undefined) {
      set.status = 429;
      set.headers["retry-after"] = String(wait);
      return { error: "too many requests that were not clicks; try again later" };
    }
    const body = await readLimited(request, MAX_BODY_BYTES);
    if (!body) {
      set.status = 413;
      return { error: "request too large" };
    }
    if (!isJson(request.headers.get("content-type"))) {
      set.status = 415;
      return { error: "send application/json" };
    }
    const decoded = decodeJson(body);
    if (!decoded.ok) {
      set.status = 400;
      return { error: decoded.error };
    }
    const answer = await opts.handle(decoded.value);
    if (!answer) {
      failures.take(address, now());
      log.debug("a request to the action route was not a click st2bot knows");
      set.status = 400;
      return { error: "not a click this bot knows" };
    }
    return answer;
  }, { parse: "none" });
}
