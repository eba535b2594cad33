/**
 * Client-side login sessions. `!st2session_start <shared word>` creates one with a random id
 * (a v4 UUID: 122 random bits) that is the only key to the login URL. Only the id's SHA-256
 * and the shared word's password hash (Bun.password, argon2id) are stored. A session expires
 * after session_ttl and is consumed by its first successful login; expired, consumed and
 * unknown ids are indistinguishable to the caller.
 *
 * Shared words are hashed with argon2id at OWASP's baseline (19 MiB, 2 passes; Bun's default
 * takes 64 MiB) — the word only guards a link that is already 122 random bits and short-lived —
 * and one at a time, so a burst of requests queues instead of multiplying the memory (the chat
 * command also limits each user, see bot/commands/sessions.ts).
 */
import type { Database } from "../store/db.ts";

/** An open session as admins see it (`!st2session_list`): never its id. */
export interface SessionInfo {
  chatUser: string;
  createdAt: number;
  expiresAt: number;
  /** The first characters of the id's hash: enough to cancel it, useless for logging in. */
  ref: string;
}

/**
 * The verdict on an id and shared word. `finish()` consumes the session and returns false when
 * a parallel login on the same link consumed it first: only the caller that gets true may link.
 */
export type Redeem =
  | { ok: true; chatUser: string; finish(): boolean | Promise<boolean> }
  | { ok: false; reason: "invalid" | "wrong-word" };

/**
 * What identities, the login page and the session commands need of the sessions: this SQLite
 * table for one process, or Redis in cluster mode (src/cluster/sessions.ts), whose answers are
 * promises; callers await every call.
 */
export interface SessionStore {
  start(chatUser: string, sharedWord: string): Promise<string>;
  isOpen(id: string): boolean | Promise<boolean>;
  redeem(id: string, sharedWord: string): Promise<Redeem>;
  burn(id: string): void | Promise<void>;
  list(): SessionInfo[] | Promise<SessionInfo[]>;
  cancel(userOrRef: string): number | Promise<number>;
  end(chatUser: string): number | Promise<number>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** The SHA-256 (hex) of a session id: all that either session store keeps of it. */
export const hashSessionId = (id: string): string => new Bun.CryptoHasher("sha256").update(id).digest("hex");
/** True for a well-formed session id (a v4 UUID); nothing else is ever looked up. */
export const isSessionId = (id: string): boolean => UUID.test(id);

/** The login sessions table (see the file comment). */
export class Sessions implements SessionStore {
  /** The tail of the one-at-a-time hashing queue. */
  private hashing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Database,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Creates a session for `chatUser` (replacing any open one) and returns its secret id. */
  async start(chatUser: string, sharedWord: string): Promise<string> {
    const id = crypto.randomUUID();
    const hash = await this.hashOne(sharedWord);
    const now = this.now();
    this.db.transaction(() => {
      this.db.query("DELETE FROM sessions WHERE chat_user = ? AND consumed = 0").run(chatUser);
      this.db.query("INSERT INTO sessions (id_hash, chat_user, secret_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")
        .run(hashSessionId(id), chatUser, hash, now, now + this.ttlMs);
    })();
    return id;
  }

  private hashOne(word: string): Promise<string> {
    const run = this.hashing.then(() => Bun.password.hash(word, ARGON2));
    this.hashing = run.catch(() => undefined);
    return run;
  }

  /** Whether `id` names an open session (for the page to say so before the form is filled). */
  isOpen(id: string): boolean {
    return this.row(id) !== undefined;
  }

  /**
   * Checks the id and the shared word. On success the caller validates the StackStorm
   * credentials and then calls `finish()`, which consumes the session. Nothing is consumed
   * here: a login that StackStorm refuses leaves the link usable.
   */
  async redeem(id: string, sharedWord: string): Promise<Redeem> {
    const row = this.row(id);
    // Hash something anyway so an unknown id costs as long as a known one.
    const ok = await Bun.password.verify(sharedWord, row?.secret_hash ?? dummyHash()).catch(() => false);
    if (!row) return { ok: false, reason: "invalid" };
    if (!ok) return { ok: false, reason: "wrong-word" };
    return {
      ok: true,
      chatUser: row.chat_user,
      finish: () => this.db.query("UPDATE sessions SET consumed = 1 WHERE id_hash = ? AND consumed = 0").run(row.id_hash).changes > 0,
    };
  }

  /** Burns a session (too many failed attempts). */
  burn(id: string): void {
    if (isSessionId(id)) this.db.query("UPDATE sessions SET consumed = 1 WHERE id_hash = ?").run(hashSessionId(id));
  }

  /** Open sessions, oldest first (long-gone rows are pruned on the way). */
  list(): SessionInfo[] {
    this.prune();
    const rows = this.db.query("SELECT id_hash, chat_user, created_at, expires_at FROM sessions WHERE consumed = 0 ORDER BY created_at").all() as Row[];
    return rows.map((r) => ({ chatUser: r.chat_user, createdAt: r.created_at, expiresAt: r.expires_at, ref: r.id_hash.slice(0, 8) }));
  }

  /** Cancels open sessions by chat user or by `ref`; returns how many. */
  cancel(userOrRef: string): number {
    return this.db.query("UPDATE sessions SET consumed = 1 WHERE consumed = 0 AND (chat_user = ? OR substr(id_hash, 1, 8) = ?)").run(userOrRef, userOrRef).changes;
  }

  /** Ends every session of a chat user. */
  end(chatUser: string): number {
    return this.db.query("DELETE FROM sessions WHERE chat_user = ?").run(chatUser).changes;
  }

  private row(id: string): Row | undefined {
    if (!isSessionId(id)) return undefined;
    const row = this.db.query("SELECT * FROM sessions WHERE id_hash = ?").get(hashSessionId(id)) as Row | null;
    if (!row || row.consumed || row.expires_at <= this.now()) return undefined;
    return row;
  }

  private prune(): void {
    this.db.query("DELETE FROM sessions WHERE expires_at <= ? OR consumed = 1").run(this.now() - 86_400_000);
  }
}

interface Row {
  id_hash: string;
  chat_user: string;
  secret_hash: string;
  created_at: number;
  expires_at: number;
  consumed: number;
}

/** OWASP's argon2id baseline (m = 19 MiB, t = 2, p = 1); `verify` reads the parameters from each hash. */
export const ARGON2 = { algorithm: "argon2id", memoryCost: 19_456, timeCost: 2 } as const;

let dummy: string | undefined;
/**
 * Made on first use, not at import: hashing costs tens of milliseconds of start-up. Same
 * parameters as real hashes, so an unknown id costs as long to check as a known one.
 */
export const dummyHash = () => (dummy ??= Bun.password.hashSync("st2bot-no-such-session", ARGON2));
