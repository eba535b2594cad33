/**
 * The `user` and `channel` strings StackStorm sends back (announcements, webhooks) → a
 * Rocket.Chat target. Accepts `@user`, `#room`, a room id (what st2bot sends as
 * `source_channel`, also a direct room's), a user id, and a bare name (a room first for
 * `channel`, a person first for `user`). A room is found whether or not the bot ever received a
 * message in it: results StackStorm posts out of band must arrive (st2chatops #167).
 */
import { SendError } from "../../lib/errors.ts";
import type { Target } from "../types.ts";
import { type RocketChatDirectory, roomTarget, userTarget } from "./directory.ts";

type Kind = "user" | "room";

/** Rocket.Chat ids: 17 characters of Meteor's Random.id, a direct room's two ids joined, or longer. */
const ID = /^[A-Za-z0-9]{17,}$/;

/** Resolves `value`; a non-retryable SendError when nothing matches. */
export async function resolveRocketChatAddress(directory: RocketChatDirectory, kind: "user" | "channel", value: string): Promise<Target> {
  const text = value.trim();
  if (text.startsWith("@")) return find(directory, ["user"], text.slice(1), text);
  if (text.startsWith("#")) return find(directory, ["room"], text.slice(1), text);
  return find(directory, kind === "user" ? ["user", "room"] : ["room", "user"], text, text);
}

async function find(directory: RocketChatDirectory, kinds: Kind[], key: string, asked: string): Promise<Target> {
  if (!key || /\s/.test(key)) throw new SendError(`Rocket.Chat: "${asked}" names nobody`, false);
  const byId = (k: Kind) => (k === "user" ? directory.userById(key).then((u) => u && userTarget(u)) : directory.roomById(key).then((r) => r && roomTarget(r)));
  const byName = (k: Kind) => (k === "user" ? directory.userByName(key).then((u) => u && userTarget(u)) : directory.roomByName(key).then((r) => r && roomTarget(r)));
  // Ids first when the key looks like one: a room id is what st2bot sent as source_channel.
  const idKinds = ID.test(key) ? (["room", "user"] as const).filter((k) => kinds.includes(k)) : [];
  const attempts = [...idKinds.map((k) => () => byId(k)), ...kinds.map((k) => () => byName(k))];
  for (const attempt of attempts) {
    const found = await attempt();
    if (found) return found;
  }
  throw new SendError(`Rocket.Chat: no ${kinds.join(" or ")} "${asked}"`, false);
}
