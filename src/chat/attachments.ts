/**
 * What Slack and Mattermost share when they turn an announcement into a Slack-style attachment
 * (Mattermost's `props.attachments` take the same shape): hubot-stackstorm's `{~}` pretext
 * marker, its colour rule (the announcement's `extra.color`, else a failure colour for a failed
 * execution, else the service's success colour) and how a failed execution is recognised.
 * Which fields a service accepts and where the pretext goes stay in each backend's format module.
 */

/** One attachment as the service's API takes it. */
export type Attachment = Record<string, unknown>;

/** Colours used when the announcement names none; a service without a success colour leaves it out. */
export interface AttachmentColors {
  success?: string;
  failure: string;
}


/** hubot-stackstorm's split between attachment pretext and body. */
const PRETEXT_DELIMITER = "{~}";

/**
 * Splits `pretext{~}body` at the first marker. `pretext` is undefined when the text has no marker
 * (and `""` when it starts with one), so a caller can tell "no pretext given" from "empty".
 */
export function splitPretext(text: string): { pretext?: string; body: string } {
  const cut = text.indexOf(PRETEXT_DELIMITER);
  if (cut < 0) return { body: text };
  return { pretext: text.slice(0, cut), body: text.slice(cut + PRETEXT_DELIMITER.length) };
}

/** StackStorm's result template prints `status : <status>` on a line of its own. */
const FAILED_STATUS = /^\s*status\s*:\s*(failed|timeout|abandoned)\b/m;

/** True when `text` reports a failed, timed-out or abandoned execution. */
export function isFailedExecution(text: string): boolean {
  return FAILED_STATUS.test(text);
}

/** The announcement's own `extra.color`, when it sets a non-empty one. */
export function extraColor(extra: Record<string, unknown> | undefined): string | undefined {
  const color = extra?.color;
  return typeof color === "string" && color !== "" ? color : undefined;
}

/**
 * The colour of an attachment carrying `text`: `extra.color` when set, else `colors.failure`
 * for a failed execution, else `colors.success` (undefined when the service has none).
 */
export function attachmentColor(extra: Record<string, unknown> | undefined, text: string, colors: AttachmentColors): string | undefined {
  return extraColor(extra) ?? (isFailedExecution(text) ? colors.failure : colors.success);
}
