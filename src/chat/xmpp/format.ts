/**
 * Outgoing messages: plain-text bodies from the Slack/markdown-flavoured text StackStorm
 * templates use, plus an XHTML-IM (XEP-0071) copy in colour when the announcement asks for one.
 */
import { xml, type XmlChild, type XmlElement } from "@xmpp/client";
import type { Outgoing } from "../types.ts";
import { flattenMarkup, outsideFences } from "../plain.ts";
import { NS } from "./ns.ts";

/** Plain text for XMPP bodies (see ../plain.ts for what is flattened and what stays). */
export function toPlainText(text: string): string {
  return outsideFences(text, (line) => flattenMarkup(line, (bold) => bold)).join("\n");
}

/** Slack's named attachment colours, which StackStorm packs often put in `extra`. */
const NAMED_COLORS: Record<string, string> = { good: "#2eb886", warning: "#daa038", danger: "#a30200" };

/**
 * The colour `extra` asks for (`extra.color`, or `extra.slack.color` from Slack-first packs), as a
 * CSS value safe to put in a style attribute; undefined when absent or not a plain colour.
 */
export function messageColor(extra: Record<string, unknown> | undefined): string | undefined {
  const slack = extra?.slack;
  const raw = extra?.color ?? (slack && typeof slack === "object" ? (slack as Record<string, unknown>).color : undefined);
  if (typeof raw !== "string") return undefined;
  const value = raw.trim();
  const named = NAMED_COLORS[value.toLowerCase()];
  if (named) return named;
  if (/^#?(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(value)) return value.startsWith("#") ? value : `#${value}`;
  if (/^[a-z]{3,20}$/i.test(value)) return value.toLowerCase();
  return undefined;
}

/** The XEP-0071 payload: the same plain text, coloured, lines kept with `<br/>`. */
function xhtmlIm(plain: string, color: string): XmlElement {
  const children: XmlChild[] = [];
  plain.split("\n").forEach((line, i) => {
    if (i > 0) children.push(xml("br"));
    if (line) children.push(line);
  });
  return xml("html", { xmlns: NS.xhtmlIm }, xml("body", { xmlns: NS.xhtml }, xml("p", null, xml("span", { style: `color: ${color}` }, ...children))));
}

/** A `<message>` stanza carrying `msg` as plain text, plus XHTML-IM when `extra` has a colour. */
export function buildMessage(to: string, type: "chat" | "groupchat", msg: Outgoing): XmlElement {
  const plain = toPlainText(msg.text);
  const color = messageColor(msg.extra);
  return xml("message", { to, type, id: crypto.randomUUID() }, xml("body", null, plain), color !== undefined && xhtmlIm(plain, color));
}
