/**
 * Callback tokens of chat buttons (migration 4): one per choice, 256 random bits, handed to the
 * chat service and kept here only as a SHA-256, with the command a click runs, its group and its
 * expiry. A group is answered once: after that every token of it is spent and a click on any of
 * them learns what the answer was. Expired rows are swept as new tokens are issued.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Database } from "./db.ts";

/** Issues between two sweeps of expired rows. */
const SWEEP_EVERY = 64;

const hash = (token: string) => createHash("sha256").update(token).digest("hex");

/** What a token names, when it is known and not expired. */
export interface TokenRecord {
  group: string;
  command: string;
  /** The note recorded when the group was answered (who answered what and when), if it was. */
  answered?: string;
}

/** The token table (see the file comment). `clock` is epoch ms, injected for tests. */
export class ActionTokens {
  private readonly sql;
  private issued = 0;

  constructor(db: Database, private readonly clock: () => number = Date.now) {
    this.sql = {
      insert: db.prepare("INSERT INTO action_tokens (token_hash, grp, command, expires_at) VALUES (?, ?, ?, ?)"),
      find: db.prepare(
        `SELECT t.grp AS grp, t.command AS command, a.note AS note FROM action_tokens t
         LEFT JOIN action_answers a ON a.grp = t.grp WHERE t.token_hash = ? AND t.expires_at > ?`,
      ),
      // The first answer wins; a later one (a race StackStorm settles) keeps the first note.
      answer: db.prepare(
        `INSERT INTO action_answers (grp, note, expires_at)
         SELECT ?, ?, MAX(expires_at) FROM action_tokens WHERE grp = ? HAVING COUNT(*) > 0
         ON CONFLICT (grp) DO NOTHING`,
      ),
      sweepTokens: db.prepare("DELETE FROM action_tokens WHERE expires_at <= ?"),
      sweepAnswers: db.prepare("DELETE FROM action_answers WHERE expires_at <= ?"),
    };
    this.sweep();
  }

  /** A fresh token for one choice: a click on it runs `command` until `expiresAt` (epoch ms). */
  issue(group: string, command: string, expiresAt: number): string {
    if (++this.issued % SWEEP_EVERY === 0) this.sweep();
    const token = randomBytes(32).toString("base64url");
    this.sql.insert.run(hash(token), group, command, expiresAt);
    return token;
  }

  /** What `token` names; undefined when it was never issued or has expired. */
  lookup(token: string): TokenRecord | undefined {
    if (typeof token !== "string" || token.length > 200) return undefined;
    const row = this.sql.find.get(hash(token), this.clock()) as { grp: string; command: string; note: string | null } | null;
    if (!row) return undefined;
    return { group: row.grp, command: row.command, ...(row.note !== null ? { answered: row.note } : {}) };
  }

  /** Spends every token of `group`, recording `note`; the first answer recorded stays. */
  answered(group: string, note: string): void {
    this.sql.answer.run(group, note, group);
  }

  private sweep(): void {
    const now = this.clock();
    this.sql.sweepTokens.run(now);
    this.sql.sweepAnswers.run(now);
  }
}
