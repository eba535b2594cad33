/**
 * How people address the bot in plain text, for the services that share a form. Each returns
 * the command with the address removed, so the router sees the command itself. Slack (`<@U1>`)
 * and Matrix (display names, longest first) have forms of their own in their folders.
 */

/** `s` with every regular-expression metacharacter escaped, to match it literally. */
export const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * IRC and XMPP: `st2bot: deploy x`, `st2bot, deploy x`, `@st2bot deploy x` → `deploy x`,
 * mentioned, for any of `names` (case-insensitive); `st2botx run` is not a mention.
 */
export function stripLeadingName(body: string, names: string[]): { text: string; mentioned: boolean } {
  const text = body.trim();
  const alternatives = names.filter(Boolean).map(escapeRegExp).join("|");
  const match = alternatives ? new RegExp(`^@?(?:${alternatives})(?:[:,]\\s*|\\s+)`, "i").exec(text) : null;
  return match ? { text: text.slice(match[0].length).trim(), mentioned: true } : { text, mentioned: false };
}

/**
 * Mattermost and Rocket.Chat: `@st2bot: deploy x` → `deploy x`; `named` when `@username` stands
 * anywhere in the text. A name ends where no name character follows (a trailing full stop is
 * punctuation, `@st2bot.x` another name).
 */
export function stripAtMention(message: string, username: string): { text: string; named: boolean } {
  const name = escapeRegExp(username);
  const end = "(?![\\w-]|\\.\\w)";
  const leading = new RegExp(`^\\s*@${name}${end}[:,]?\\s*`, "i");
  if (leading.test(message)) return { text: message.replace(leading, ""), named: true };
  return { text: message, named: new RegExp(`(^|[^\\w@])@${name}${end}`, "i").test(message) };
}
