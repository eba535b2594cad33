/**
 * Pending two-factor confirmations shared in Redis, so a confirmation that reaches the leader
 * after a failover still runs the held command. One key per held request:
 * `<prefix>:2fa:<sha256 of the uuid>` holding the alias, the asker and their message (what the
 * router needs to run it again), with the confirmation's TTL. The uuid itself is never stored:
 * it is the bearer of the confirmation until StackStorm announces it.
 * Taking is a GETDEL, so of any number of instances exactly one gets the record.
 */
import { createHash } from "node:crypto";
import type { Message } from "../chat/types.ts";
import type { Redis } from "./redis.ts";

/** What is kept of a held request (the bot's `HeldRecord`). */
export interface SharedConfirmation {
  alias: string;
  user: string;
  message: Message;
}

/** The Redis store of held two-factor requests (the bot's `ConfirmationStore`). */
export class RedisConfirmations {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(uuid: string): string {
    return `${this.prefix}:2fa:${createHash("sha256").update(uuid).digest("hex")}`;
  }

  /** Keeps `record` for `ttlMs`; rejects when Redis did not confirm it. */
  async put(uuid: string, record: SharedConfirmation, ttlMs: number): Promise<void> {
    await this.redis.set(this.key(uuid), JSON.stringify(record), "PX", Math.max(1, Math.round(ttlMs)));
  }

  /** The record, removed in the same command: exactly one caller gets it. */
  async take(uuid: string): Promise<SharedConfirmation | undefined> {
    const raw = await this.redis.getdel(this.key(uuid));
    return raw ? (JSON.parse(raw) as SharedConfirmation) : undefined;
  }

  /** Forgets a held request (its 2FA action could not be started). */
  async drop(uuid: string): Promise<void> {
    await this.redis.del(this.key(uuid));
  }
}
