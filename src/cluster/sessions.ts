/**
 * Cluster mode's login sessions: the same rules as the SQLite table (auth/sessions.ts) — only
 * the SHA-256 of the session id and the argon2id hash of the shared word are stored, a session
 * expires after session_ttl and is consumed by its first successful login — kept in Redis, so a
 * link made by the leader opens on whichever instance serves the login page.
 *
 * One hash per session (`<prefix>:session:<sha256 of id>`, expiring with the session) and a
 * sorted set of open ones (`<prefix>:sessions`, scored by expiry) for the admin list.
 * Consuming is a DEL: of two logins racing on one link, on any two instances, only the one
 * whose DEL removed the key may link.
 */
import { ARGON2, dummyHash, hashSessionId, isSessionId, type Redeem, type SessionInfo, type SessionStore } from "../auth/sessions.ts";
import type { Redis } from "./redis.ts";

/** Login sessions in Redis (see the file comment). */
export class RedisSessions implements SessionStore {
  private hashing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private key(idHash: string) {
    return `${this.prefix}:session:${idHash}`;
  }

  private get index() {
    return `${this.prefix}:sessions`;
  }

  async start(chatUser: string, sharedWord: string): Promise<string> {
    const id = crypto.randomUUID();
    const run = this.hashing.then(() => Bun.password.hash(sharedWord, ARGON2));
    this.hashing = run.catch(() => undefined);
    const hash = await run;
    await this.end(chatUser);
    const now = this.now();
    const idHash = hashSessionId(id);
    await this.redis
      .multi()
      .hset(this.key(idHash), { user: chatUser, word: hash, created: now, expires: now + this.ttlMs })
      .pexpireat(this.key(idHash), now + this.ttlMs)
      .zadd(this.index, now + this.ttlMs, idHash)
      .exec();
    return id;
  }

  async isOpen(id: string): Promise<boolean> {
    return (await this.row(id)) !== undefined;
  }

  async redeem(id: string, sharedWord: string): Promise<Redeem> {
    const row = await this.row(id);
    const ok = await Bun.password.verify(sharedWord, row?.word ?? dummyHash()).catch(() => false);
    if (!row) return { ok: false, reason: "invalid" };
    if (!ok) return { ok: false, reason: "wrong-word" };
    return { ok: true, chatUser: row.user, finish: () => this.consume(row.idHash) };
  }

  async burn(id: string): Promise<void> {
    if (isSessionId(id)) await this.consume(hashSessionId(id));
  }

  async list(): Promise<SessionInfo[]> {
    await this.redis.zremrangebyscore(this.index, 0, this.now());
    const hashes = await this.redis.zrange(this.index, 0, -1);
    const rows = await Promise.all(hashes.map(async (h) => ({ h, r: await this.redis.hgetall(this.key(h)) })));
    return rows
      .filter(({ r }) => r.user)
      .map(({ h, r }) => ({ chatUser: r.user!, createdAt: Number(r.created), expiresAt: Number(r.expires), ref: h.slice(0, 8) }))
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  async cancel(userOrRef: string): Promise<number> {
    const hit = (await this.list()).filter((s) => s.chatUser === userOrRef || s.ref === userOrRef);
    let n = 0;
    for (const s of hit) {
      const hashes = (await this.redis.zrange(this.index, 0, -1)).filter((h) => h.startsWith(s.ref));
      for (const h of hashes) if (await this.consume(h)) n++;
    }
    return n;
  }

  /** Ends every session of `chatUser`. */
  async end(chatUser: string): Promise<number> {
    return this.cancel(chatUser);
  }

  private async consume(idHash: string): Promise<boolean> {
    const [[, deleted] = [null, 0]] = ((await this.redis.multi().del(this.key(idHash)).zrem(this.index, idHash).exec()) ?? []) as Array<[unknown, number]>;
    return Number(deleted) === 1;
  }

  private async row(id: string): Promise<{ idHash: string; user: string; word: string } | undefined> {
    if (!isSessionId(id)) return undefined;
    const idHash = hashSessionId(id);
    const r = await this.redis.hgetall(this.key(idHash));
    if (!r.user || !r.word || Number(r.expires) <= this.now()) return undefined;
    return { idHash, user: r.user, word: r.word };
  }
}
