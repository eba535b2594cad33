/**
 * `POST /chatops/action`: where a chat service posts a click on one of st2bot's buttons
 * (Mattermost's interactive messages: `integration.url`). The web server only reads the body;
 * the chat backend authenticates the click by its single-use token and answers (its
 * `handleAction`), so nothing here knows a service's payloads.
 *
 * Order of checks: size (413) → content type (415) → JSON (400) → the backend recognises the
 * request (else 400) → its answer (200). No bearer credential: the service cannot send one; the
 * per-choice token (256 random bits, kept hashed, spent once answered) is the credential.
 */
import { Elysia } from "elysia";
import { logger } from "../lib/log.ts";
import { decodeJson, isJson, readLimited } from "./body.ts";

const log = logger("web.actions");

/** A click request is a few hundred bytes; anything near this is not one. */
const MAX_BODY_BYTES = 16 * 1024;

/** The path chat services post clicks to (the backend setting naming st2bot's click URL points here). */
export const ACTION_PATH = "/chatops/action";

/** What the route needs: the backend's click handler (`ChatBackend.handleAction`). */
export interface ActionRouteOptions {
  handle(body: unknown): Promise<Record<string, unknown> | undefined>;
}

/** The click route (see the file comment). */
export function actionsPlugin(opts: ActionRouteOptions) {
  return new Elysia({ name: "st2bot.actions" }).post(ACTION_PATH, async ({ request, set }) => {
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
      log.debug("a request to the action route was not a click st2bot knows");
      set.status = 400;
      return { error: "not a click this bot knows" };
    }
    return answer;
  }, { parse: "none" });
}
