/**
 * st2bot's answer buttons on Mattermost (interactive message attachments) and the clicks that
 * come back: Mattermost's server POSTs `{user_id, channel_id, post_id, context, ...}` to the
 * action's `integration.url` (st2bot's `POST /chatops/action`, `mattermost.actions_url`) and
 * applies the answer's `update` to the post and shows its `ephemeral_text` to the clicker.
 *
 * A choice's token travels in `integration.context`, which Mattermost keeps on the server and
 * strips from posts sent to clients; a select's option values are indexes (clients see them),
 * its tokens sit in the context by index. So no chat client ever holds a usable token.
 */
import * as v from "valibot";
import type { Attachment } from "../attachments.ts";
import type { ChatAction } from "../types.ts";
import { escapeMentions, type PostBody } from "./format.ts";

/** Our actions are known by this prefix of their id (Mattermost wants ids of letters and digits). */
const ID_PREFIX = "st2bot";

/** The attachments carrying `actions`, each posting back to `url`. */
export function actionAttachments(actions: ChatAction[], url: string): Attachment[] {
  return actions.map((a, i) => {
    if (a.kind === "select") {
      const options = a.choices.map((c, j) => ({ text: c.label, value: String(j) }));
      return { text: "", actions: [{ id: `${ID_PREFIX}${i}s`, name: a.placeholder, type: "select", options, integration: { url, context: { tokens: a.choices.map((c) => c.token) } } }] };
    }
    const buttons = a.choices.map((c, j) => ({
      id: `${ID_PREFIX}${i}b${j}`,
      name: c.label,
      type: "button",
      ...(c.style ? { style: c.style === "primary" ? "good" : "danger" } : {}),
      integration: { url, context: { token: c.token } },
    }));
    return { text: "", actions: buttons };
  });
}

/** The post with the controls added under it (after any attachments of its own). */
export function withActions(body: PostBody, actions: ChatAction[] | undefined, url: string | undefined): PostBody {
  if (!actions?.length || !url) return body;
  return { ...body, props: { attachments: [...(body.props?.attachments ?? []), ...actionAttachments(actions, url)] } };
}

const isOurs = (a: unknown) =>
  typeof a === "object" && a !== null && Array.isArray((a as { actions?: unknown }).actions) &&
  ((a as { actions: unknown[] }).actions).some((x) => typeof (x as { id?: unknown })?.id === "string" && (x as { id: string }).id.startsWith(ID_PREFIX));

/**
 * The `update` for an answered post: its text as it was, our controls replaced by `note`
 * (mentions made inert: it names the person who clicked and what they chose).
 */
export function answeredUpdate(post: { message: string; props?: Record<string, unknown> }, note: string): Record<string, unknown> {
  const props = post.props ?? {};
  const kept = Array.isArray(props.attachments) ? props.attachments.filter((a) => !isOurs(a)) : [];
  return { message: post.message, props: { ...props, attachments: [...kept, { text: escapeMentions(note) }] } };
}

const RequestSchema = v.looseObject({
  user_id: v.pipe(v.string(), v.minLength(1)),
  channel_id: v.pipe(v.string(), v.minLength(1)),
  post_id: v.pipe(v.string(), v.minLength(1)),
  context: v.looseObject({
    token: v.optional(v.string()),
    tokens: v.optional(v.array(v.string())),
    selected_option: v.optional(v.string()),
  }),
});

/** One click, read from Mattermost's integration request. */
export interface MattermostClick {
  token: string;
  user: string;
  channel: string;
  post: string;
}

/** The click in a request body, or undefined when it is not one of ours. */
export function readClick(body: unknown): MattermostClick | undefined {
  const parsed = v.safeParse(RequestSchema, body);
  if (!parsed.success) return undefined;
  const { context: c, user_id: user, channel_id: channel, post_id: post } = parsed.output;
  const index = c.selected_option !== undefined && /^\d{1,3}$/.test(c.selected_option) ? Number(c.selected_option) : undefined;
  const token = c.token ?? (index !== undefined ? c.tokens?.[index] : undefined);
  return token ? { token, user, channel, post } : undefined;
}
