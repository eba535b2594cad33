/**
 * Outbox rows that carry a secret (a one-time login link, `Announcement.secret`): stored with
 * their text sealed (store/seal.ts) and bound to the target key they are stored under, a
 * placeholder where the text was, and everything else (where it goes) readable. Opened only to
 * be sent; `!st2outbox` shows the placeholder.
 */
import { logger } from "../lib/log.ts";
import type { Sealer } from "../store/seal.ts";
import type { Announcement } from "./announcement.ts";

const log = logger("delivery.outbox");

/** What a sealed message shows where it is not opened (`!st2outbox`). */
export const SEALED_PLACEHOLDER = "(this message carries a secret and is stored encrypted)";
/** Sent instead of a sealed text that cannot be opened any more (its key died with a restart). */
export const UNRECOVERABLE =
  "st2bot restarted before it could send you a message that carried a secret (such as a login link), and could not recover it. If you were waiting for a login link, please ask for a new one.";

/**
 * The stored form of a `secret` message: its text sealed, bound to the target key it is stored
 * under, and a placeholder where the text was; everything else (where it goes) stays readable.
 */
export function sealBody(sealer: Sealer, a: Announcement, key: string): string {
  const { secret: _, message, ...rest } = a;
  return JSON.stringify({ ...rest, message: SEALED_PLACEHOLDER, sealed: sealer.seal(message, key) });
}

/**
 * A row read back (stored under target key `key`): its sealed text opened, or replaced by
 * `UNRECOVERABLE` when it cannot be. Rows that were not sealed come back as they are.
 */
export function openBody(sealer: Sealer, a: Announcement | undefined, key: string, id: number): Announcement | undefined {
  const sealed = (a as { sealed?: unknown } | undefined)?.sealed;
  if (!a || typeof sealed !== "string") return a;
  const { sealed: _, ...rest } = a as Announcement & { sealed: string };
  const message = sealer.open(sealed, key);
  if (message === undefined) log.warn("a stored message that carried a secret could not be opened (the key it was sealed with is gone); sending a notice instead", { id, target: key });
  return { ...rest, message: message ?? UNRECOVERABLE };
}
