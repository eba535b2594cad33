/**
 * Cluster mode's secrets store: users' StackStorm credentials sealed exactly as the SQLite
 * store seals them (auth/secrets.ts: AES-256-GCM, fresh nonce, the chat user as associated
 * data, the same key), kept as ciphertext in the Redis hash `<prefix>:secrets`, so a login
 * made through any instance is used by whichever instance leads, and survives a failover.
 * Redis never sees a credential or the key.
 *
 * The key is checked against `<prefix>:secrets_key_check` (written by the first instance), so
 * an instance started with another key refuses to use the store instead of writing records
 * its peers cannot open. When Redis is unreachable at start the check waits for the first use.
 */
import { KEY_CHECK, open, seal, type SecretStore } from "../auth/secrets.ts";
import type { Credential } from "../st2/credentials.ts";
import { ConfigError } from "../lib/errors.ts";
import type { Redis } from "./redis.ts";

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const pack = (s: { nonce: Uint8Array; ciphertext: Uint8Array }) => `${b64(s.nonce)}.${b64(s.ciphertext)}`;
const unpack = (text: string) => {
  const [nonce, ciphertext] = text.split(".").map((p) => new Uint8Array(Buffer.from(p, "base64")));
  return { nonce: nonce!, ciphertext: ciphertext! };
};

/** The encrypted store in Redis (see the file comment). */
export class RedisSecretStore implements SecretStore {
  readonly kind = "encrypted";
  private checked?: Promise<void>;
  private known: string[] = [];

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly key: CryptoKey,
  ) {}

  private get hash() {
    return `${this.prefix}:secrets`;
  }

  /** Checks the key now (at start); a wrong key throws a ConfigError, an unreachable Redis defers the check. */
  async open(): Promise<this> {
    await this.check().catch((err) => {
      if (err instanceof ConfigError) throw err;
      this.checked = undefined;
    });
    return this;
  }

  private check(): Promise<void> {
    this.checked ??= (async () => {
      const candidate = pack(await seal(this.key, KEY_CHECK, KEY_CHECK));
      await this.redis.set(`${this.prefix}:secrets_key_check`, candidate, "NX");
      const stored = await this.redis.get(`${this.prefix}:secrets_key_check`);
      const { nonce, ciphertext } = unpack(stored ?? "");
      const ok = await open(this.key, nonce, ciphertext, KEY_CHECK).then((t) => t === KEY_CHECK, () => false);
      if (!ok) throw new ConfigError("the secrets key does not match the one the cluster's secrets store (in Redis) was written with: give every instance the same key");
      this.known = await this.redis.hkeys(this.hash);
    })();
    return this.checked;
  }

  async get(user: string): Promise<Credential | undefined> {
    await this.check();
    const text = await this.redis.hget(this.hash, user);
    if (!text) return undefined;
    const { nonce, ciphertext } = unpack(text);
    const c = JSON.parse(await open(this.key, nonce, ciphertext, user)) as Credential & { expiry?: string };
    return c.kind === "token" && c.expiry ? { ...c, expiry: new Date(c.expiry) } : c;
  }

  async put(user: string, credential: Credential): Promise<void> {
    await this.check();
    await this.redis.hset(this.hash, user, pack(await seal(this.key, JSON.stringify(credential), user)));
    if (!this.known.includes(user)) this.known = [...this.known, user].sort();
  }

  async delete(user: string): Promise<boolean> {
    await this.check();
    const n = await this.redis.hdel(this.hash, user);
    this.known = this.known.filter((u) => u !== user);
    return n > 0;
  }

  /** As of this instance's last read or write (refreshed in the background on each call). */
  users(): string[] {
    void this.redis.hkeys(this.hash).then((users) => (this.known = users.sort()), () => undefined);
    return this.known;
  }
}
