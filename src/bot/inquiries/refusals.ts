/**
 * What StackStorm answered about inquiries, in plain words that always quote its own reason:
 * whose identity an answer was sent with, who may answer when StackStorm refuses one, and what
 * a refused list call means. Under standalone auth every answer is sent with the bot's own
 * credential, so StackStorm judges the inquiry's `users`/`roles` against the bot's user; under
 * client-side auth against the identity each chat user linked.
 */
import type { Config } from "../../config/schema.ts";
import type { Inquiry } from "../../st2/schemas.ts";
import { loginHint } from "../names.ts";
import { namesResponders, whoMayAnswer } from "./schema.ts";

/** The StackStorm identity an answer went out with. */
export interface Answerer {
  /** True under client-side auth: the chat user's own linked identity. */
  personal: boolean;
  /** Its StackStorm user name, when StackStorm told us (`GET /user`). */
  st2User?: string;
}

/** `your StackStorm user alice` or `st2bot's own StackStorm user st2admin` (the name when known). */
export function answererText(a: Answerer): string {
  const name = a.st2User ? ` ${a.st2User}` : "";
  return a.personal ? `your StackStorm user${name}` : `st2bot's own StackStorm user${name}`;
}

/** The reply to an accepted answer: what was recorded and as whom. */
export function acceptedText(a: Answerer, shownId: string, response: string): string {
  const as = a.personal ? `as ${answererText(a)}` : `as ${answererText(a)} (st2bot answers inquiries with its own credential here)`;
  return `Thanks, inquiry ${shownId} was answered ${as}: ${response}. The workflow can continue.`;
}

/**
 * StackStorm's 403 on an answer: whose identity it refused, who may answer instead, and what
 * would help — linking the right identity under client-side auth; under standalone auth
 * answering in StackStorm itself, since every chat answer is sent as the bot.
 */
export function notPermittedText(config: Config, a: Answerer, inquiry: Pick<Inquiry, "id" | "users" | "roles">, fault: string): string {
  const says = `(StackStorm says: ${fault})`;
  const who = namesResponders(inquiry)
    ? `only ${whoMayAnswer(inquiry)} may answer it`
    : `${a.st2User ?? "that user"} lacks StackStorm's permission to respond to inquiries`;
  const head = `StackStorm did not let ${answererText(a)} answer this inquiry: ${who}.`;
  if (a.personal) {
    return `${head} If you have a StackStorm identity that may answer, link it instead: ${loginHint(config)}, then answer again. ${says}`;
  }
  const how = `answer in StackStorm itself (the Web UI, or \`st2 inquiry respond ${inquiry.id}\`)`;
  return `${head} Every answer given here reaches StackStorm as st2bot's own user, so someone who may answer needs to ${how}; or an administrator can turn on client-side login (stackstorm.rbac_auth.clientside) so that people answer as themselves. ${says}`;
}

/**
 * StackStorm's refusals about one inquiry (get or answer) in plain words; undefined for the
 * statuses `callStackStorm` words for every command (401, 5xx, unreachable) and for 403,
 * which needs the answerer (`notPermittedText`).
 */
export function inquiryRefusal(status: number, fault: string): string | undefined {
  const says = `(StackStorm says: ${fault})`;
  if (status === 404) return `StackStorm has no inquiry with that id. ${says}`;
  if (status !== 400) return undefined;
  if (/already been responded/i.test(fault)) return `This inquiry has already been answered, so it takes no more answers. ${says}`;
  if (/timed out/i.test(fault)) return `This inquiry timed out, so it can no longer be answered. ${says}`;
  if (/not an inquiry/i.test(fault)) return `That id belongs to an execution that is not an inquiry. ${says}`;
  if (/schema validation/i.test(fault)) return `StackStorm did not accept the answer: it does not fit the inquiry's schema. ${says}`;
  return `StackStorm refused the answer. ${says}`;
}

/**
 * The inquiries list refused with 404: what StackStorm answered, and the likely causes (no
 * inquiries API in that StackStorm, or an api_url that points elsewhere), never "no inquiry
 * with that id", which would be about something the user did not ask.
 */
export function listNotFoundText(method: string, url: string, fault: string): string {
  return (
    `StackStorm answered 404 Not Found to ${method} ${url} (StackStorm says: ${fault}). ` +
    "Either this StackStorm has no inquiries API (it arrived in StackStorm 2.5) or stackstorm.api_url points at the wrong place; an administrator can check with `st2bot doctor`."
  );
}
