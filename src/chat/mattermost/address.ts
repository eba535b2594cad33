/**
 * The `user` and `channel` strings StackStorm sends back (announcements, webhooks) → a Mattermost
 * target. Accepts `@user`, `~channel`, Errbot's occupant form `~channel/user`, a 26-character
 * user or channel id, and a bare name (a channel first for `channel`, a user first for `user`).
 */
import { SendError } from "../../lib/errors.ts";
import type { Target } from "../types.ts";
import type { Channel, MattermostDirectory, User } from "./directory.ts";
import { unlessMissing } from "./errors.ts";
import { roomName } from "./events.ts";

type Kind = "user" | "channel";

/** A Mattermost id: 26 characters of lowercase base32. */
const ID = /^[a-z0-9]{26}$/;

/**
 * Resolves `value` through `directory`. Throws a non-retryable SendError when nothing matches;
 * a lookup that failed for another reason throws that SendError instead.
 */
export function resolveMattermostAddress(directory: MattermostDirectory, kind: Kind, value: string): Promise<Target> {
  const text = value.trim();
  const occupant = /^~([^/\s]+)\/(\S+)$/.exec(text);
  if (occupant) return kind === "user" ? resolveAs(directory, ["user"], occupant[2]!, text) : resolveAs(directory, ["channel"], occupant[1]!, text);
  if (text.startsWith("@")) return resolveAs(directory, ["user"], text.slice(1), text);
  if (text.startsWith("~")) return resolveAs(directory, ["channel"], text.slice(1), text);
  return resolveAs(directory, kind === "user" ? ["user", "channel"] : ["channel", "user"], text, text);
}

/** Tries each kind by id (when the key looks like one), then each by name. */
async function resolveAs(directory: MattermostDirectory, kinds: Kind[], key: string, asked: string): Promise<Target> {
  if (!key) throw new SendError(`Mattermost: "${asked}" names nobody`, false);
  const byId = (k: Kind) => (k === "user" ? unlessMissing(directory.userById(key)).then(userTarget) : unlessMissing(directory.channelById(key)).then(roomTarget));
  const byName = (k: Kind) => (k === "user" ? unlessMissing(directory.userByName(key)).then(userTarget) : unlessMissing(directory.channelByName(key)).then(roomTarget));
  const attempts = [...(ID.test(key) ? kinds.map((k) => () => byId(k)) : []), ...kinds.map((k) => () => byName(k))];
  for (const attempt of attempts) {
    const found = await attempt();
    if (found) return found;
  }
  throw new SendError(`Mattermost: no ${kinds.join(" or ")} "${asked}"`, false);
}

const userTarget = (u: User | undefined): Target | undefined => u && { kind: "user", id: u.id, name: `@${u.username}` };
const roomTarget = (c: Channel | undefined): Target | undefined => c && { kind: "room", id: c.id, name: roomName(c.type, c.name, c.display_name, c.id) };
