/**
 * The shared dead letters and `!st2outbox` / `!st2replay` in cluster mode: messages the leader
 * gave up on are kept in the Redis hash `<prefix>:dead` (numbered by `<prefix>:dead:seq`), so
 * any leader, after any failover, lists them and sends them again. A replay moves a letter
 * back into the shared outbox in one script (HDEL, then XADD only if the HDEL removed it), so
 * two admins replaying at once on two instances send it once.
 *
 * The bot's commands read synchronously (bot/commands/outbox.ts), so the list is a copy
 * refreshed from Redis every two seconds and after each replay.
 */
import type { Announcement } from "../delivery/announcement.ts";
import { logger } from "../lib/log.ts";
import type { Redis } from "./redis.ts";

const log = logger("cluster.dead");

const REPLAY = `if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then
  return redis.call('XADD', KEYS[2], '*', 'a', ARGV[2], 's', ARGV[3], 't', ARGV[4])
end
return false`;

/** What `!st2outbox` shows of one dead letter. */
export interface DeadLetter {
  id: number;
  targetKey: string;
  createdAt: number;
  attempts: number;
  lastError: string | null;
  announcement?: Announcement;
  payload: string;
  source: string;
}

/** The local outbox's own counts (pending, delivered, failed attempts). */
interface LocalStats {
  stats(): { pending: number; dead: number; delivered: number; failedAttempts: number };
}

/** `OutboxControl` over the shared dead letters (see the file comment). */
export class SharedDeadLetters {
  private letters: DeadLetter[] = [];
  private timer?: ReturnType<typeof setInterval>;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly local: LocalStats,
  ) {}

  /** Reads the letters now and every two seconds. */
  start(): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), 2000);
  }

  /** Stops the refresh timer. */
  stop(): void {
    clearInterval(this.timer);
  }

  /** Reads the letters from Redis (kept as they were when Redis does not answer). */
  async refresh(): Promise<void> {
    try {
      const all = await this.redis.hgetall(`${this.prefix}:dead`);
      this.letters = Object.entries(all)
        .map(([n, body]) => letterOf(Number(n), body))
        .filter((l): l is DeadLetter => l !== undefined)
        .sort((a, b) => a.id - b.id);
    } catch {
      // Unreachable: the last copy stands.
    }
  }

  /** The local outbox's counts, with the shared dead letters as `dead`. */
  stats() {
    return { ...this.local.stats(), dead: this.letters.length };
  }

  /** The oldest `limit` dead letters (as of the last refresh). */
  listDead(limit: number): DeadLetter[] {
    return this.letters.slice(0, limit);
  }

  /** Moves letters back into the shared outbox; the count is of the letters known here now. */
  replay(id: number | "all"): number {
    const chosen = this.letters.filter((l) => id === "all" || l.id === id);
    this.letters = this.letters.filter((l) => !chosen.includes(l));
    void Promise.all(
      chosen.map((l) =>
        this.redis.eval(REPLAY, 2, `${this.prefix}:dead`, `${this.prefix}:outbox`, String(l.id), l.payload, l.source, String(Date.now())),
      ),
    ).then(
      () => this.refresh(),
      (err) => log.error("could not replay dead letters; they stay dead", { error: String(err) }),
    );
    return chosen.length;
  }
}

function letterOf(id: number, body: string): DeadLetter | undefined {
  try {
    const b = JSON.parse(body) as { reason?: string; at?: number; payload?: string; source?: string };
    const a = b.payload ? (JSON.parse(b.payload) as Announcement) : undefined;
    const targetKey = a?.channel ? `channel:${a.channel}` : a?.user ? `user:${a.user}` : "none:";
    return { id, targetKey, createdAt: b.at ?? 0, attempts: 0, lastError: b.reason ?? null, announcement: a, payload: b.payload ?? "", source: b.source ?? "stream" };
  } catch {
    return undefined;
  }
}
