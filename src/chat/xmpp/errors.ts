/** Telling XMPP failures apart: @xmpp/client's error names and the conditions of error stanzas. */
import type { XmlElement } from "@xmpp/client";
import { NS } from "./ns.ts";

/**
 * True when `err` is the @xmpp/client error of that name: `SASLError` (login refused),
 * `StreamError` (the server closed the stream and said why), `TimeoutError` (an iq went unanswered),
 * `StanzaError` (an iq was answered with an error).
 */
export function isXmppError(err: unknown, name: "SASLError" | "StreamError" | "TimeoutError" | "StanzaError"): err is Error {
  return err instanceof Error && err.name === name;
}

/** The defined condition of an error stanza (`not-authorized`, `conflict`, ...). */
export function errorCondition(stanza: XmlElement): string {
  const error = stanza.getChild("error");
  const condition = error?.children.find((c): c is XmlElement => typeof c !== "string" && c.attrs.xmlns === NS.stanzas && c.name !== "text");
  return condition?.name ?? "unknown error";
}
