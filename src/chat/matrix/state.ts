/**
 * The backend's memory across restarts: the /sync `next_batch` (so a restart neither replays
 * old messages nor misses new ones) and the device id (so a password login reuses its device,
 * keeping transaction ids deduplicated across restarts and not leaving a device per restart).
 * One small JSON file in `bot.data_dir`, mode 0600, replaced atomically; no secret is in it.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import * as v from "valibot";
import { logger } from "../../lib/log.ts";
import { describeError } from "../../lib/errors.ts";

const log = logger("chat.matrix");

const StateSchema = v.object({
  /** The account the token belongs to: a state of another account is not ours to continue. */
  user_id: v.string(),
  homeserver: v.string(),
  next_batch: v.optional(v.string()),
  device_id: v.optional(v.string()),
});
export type SyncState = v.InferOutput<typeof StateSchema>;

/** Reads and writes the state file; a missing or unreadable file is an empty state. */
export class StateFile {
  private last = "";

  constructor(readonly path: string) {}

  /** The stored state when it belongs to `homeserver` (and `userId`, when known). */
  load(homeserver: string, userId?: string): SyncState | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch {
      return undefined;
    }
    const parsed = v.safeParse(StateSchema, safeJson(text));
    if (!parsed.success) {
      log.warn("the Matrix sync state file is unreadable; starting from now", { file: this.path });
      return undefined;
    }
    const s = parsed.output;
    if (s.homeserver !== homeserver || (userId && s.user_id !== userId)) return undefined;
    this.last = text;
    return s;
  }

  /** Writes `state` (only when it changed): temporary file, then rename, so a crash leaves the old or the new. */
  save(state: SyncState): void {
    const text = JSON.stringify(state);
    if (text === this.last) return;
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      const tmp = `${this.path}.tmp`;
      writeFileSync(tmp, text, { mode: 0o600 });
      chmodSync(tmp, 0o600); // mode applies only when the file is created
      renameSync(tmp, this.path);
      this.last = text;
    } catch (err) {
      // Not fatal: the bot keeps working; a restart would then start from "now".
      log.error("cannot save the Matrix sync state", { file: this.path, error: describeError(err) });
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
