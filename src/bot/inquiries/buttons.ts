/**
 * Answering an inquiry with a click: the controls built from its schema (a yes/no property →
 * Approve and Reject buttons, a property with listed values → a select; anything else has none,
 * the typed command stays the way), and the note the answered message shows. Each choice is the
 * very `st2respond` command a person could type, run on the clicker's behalf (bot/clicks.ts),
 * so a click is checked exactly as typed text is: ACL, identity, schema, StackStorm.
 */
import type { ActionRequest } from "../../chat/types.ts";
import type { Config } from "../../config/schema.ts";
import type { Inquiry } from "../../st2/schemas.ts";
import { inquiryFields, respondCommandName, showValue, type InquiryField } from "./schema.ts";

/** Tokens of an inquiry that never times out stop working after this long anyway. */
export const MAX_TOKEN_LIFE_MS = 30 * 24 * 3600_000;
/** Slack's limit for a static select (Mattermost has none that matters here). */
const MAX_OPTIONS = 100;
/** Slack's limit for an option's text; longer values are cut for display (the value is not). */
const MAX_LABEL = 75;

/** The group every choice of one inquiry shares: answered once, then spent. */
export const inquiryGroup = (id: string) => `inquiry:${id}`;

/**
 * The controls for `inquiry`, or undefined when one click cannot answer it: it needs more than
 * one property, or its property is neither yes/no nor a list of values (then the typed command
 * is the way, as the message says). Tokens expire with the inquiry's `ttl` (minutes), at most
 * `MAX_TOKEN_LIFE_MS` after `now`.
 */
export function answerActions(config: Config, inquiry: Inquiry, now: number): ActionRequest[] | undefined {
  const field = singleField(inquiryFields(inquiry.schema));
  if (!field) return undefined;
  const life = inquiry.ttl !== undefined && inquiry.ttl > 0 ? Math.min(inquiry.ttl * 60_000, MAX_TOKEN_LIFE_MS) : MAX_TOKEN_LIFE_MS;
  const base = { group: inquiryGroup(inquiry.id), expiresAt: now + life };
  const command = (value: unknown) => `${respondCommandName(config)} ${inquiry.id} ${JSON.stringify({ [field.name]: value })}`;
  if (field.enum?.length) {
    if (field.enum.length > MAX_OPTIONS) return undefined;
    const choices = field.enum.map((value) => ({ label: label(showValue(value)), command: command(value) }));
    return [{ ...base, kind: "select", placeholder: `Choose ${field.name}`, choices }];
  }
  if (field.types.length === 1 && field.types[0] === "boolean") {
    return [{
      ...base,
      kind: "buttons",
      choices: [
        { label: "Approve", style: "primary", command: command(true) },
        { label: "Reject", style: "danger", command: command(false) },
      ],
    }];
  }
  return undefined;
}

/** The one property a click can answer: the only required one, else the only one. */
function singleField(fields: InquiryField[]): InquiryField | undefined {
  const required = fields.filter((f) => f.required);
  if (required.length > 1) return undefined;
  return required[0] ?? (fields.length === 1 ? fields[0] : undefined);
}

function label(text: string): string {
  return text.length > MAX_LABEL ? `${text.slice(0, MAX_LABEL - 1)}…` : text;
}

/** What the answered message shows: `Answered by alice: approved=true (2026-12-05 16:40 UTC).` */
export function answeredNote(who: string, response: string, at: Date): string {
  const when = `${at.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  return `Answered by ${who}: ${response} (${when}).`;
}
