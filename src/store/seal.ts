/**
 * Text sealed at rest: what must never sit in clear in the database, its WAL or a backup (a
 * one-time login link in the outbox) is stored as AES-256-GCM ciphertext, bound by associated
 * data to the row it belongs to, so a sealed value copied elsewhere does not open.
 *
 * Sealing is synchronous (node:crypto) because the outbox stores a message in the same call
 * that accepts it. The key is derived from the secrets key, so sealed text outlives a restart;
 * without a secrets key (`secrets_store = "cleartext"`), a random key lives only as long as
 * the process, and text sealed before a restart can no longer be opened (`open` says so).
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from "node:crypto";

const VERSION = "v1.";
const NONCE = 12;
const TAG = 16;

/** Seals and opens short texts with one key (see the file comment). */
export class Sealer {
  private constructor(
    private readonly key: KeyObject,
    /** True when sealed text can be opened after a restart (the key comes from the secrets key). */
    readonly durable: boolean,
  ) {}

  /**
   * A sealer whose key is derived from the secrets key, so the two never encrypt with the same
   * key: AES is a pseudorandom permutation, so its keystream under a nonce derived from a label
   * (which no record's random nonce will ever equal) is 32 pseudorandom bytes — a counter-mode
   * KDF made of WebCrypto's AES-GCM alone, which works with the secrets key as imported.
   */
  static async derive(secretsKey: CryptoKey, label = "st2bot sealed outbox bodies v1"): Promise<Sealer> {
    const nonce = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(label))).slice(0, NONCE);
    const stream = await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce }, secretsKey, new Uint8Array(32));
    return new Sealer(createSecretKey(new Uint8Array(stream, 0, 32)), true);
  }

  /** A sealer with a random key for this process only (nothing sealed outlives a restart). */
  static ephemeral(): Sealer {
    return new Sealer(createSecretKey(randomBytes(32)), false);
  }

  /** `plain` sealed for `context` (the row it belongs to): `v1.<base64 nonce|tag|ciphertext>`. */
  seal(plain: string, context: string): string {
    const nonce = randomBytes(NONCE);
    const cipher = createCipheriv("aes-256-gcm", this.key, nonce);
    cipher.setAAD(Buffer.from(context, "utf8"));
    const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return VERSION + Buffer.concat([nonce, cipher.getAuthTag(), body]).toString("base64");
  }

  /** The text sealed for `context`, or undefined when it does not open (other key, other row, damaged). */
  open(sealed: string, context: string): string | undefined {
    if (!sealed.startsWith(VERSION)) return undefined;
    const raw = Buffer.from(sealed.slice(VERSION.length), "base64");
    if (raw.length < NONCE + TAG) return undefined;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, NONCE));
      decipher.setAAD(Buffer.from(context, "utf8"));
      decipher.setAuthTag(raw.subarray(NONCE, NONCE + TAG));
      return Buffer.concat([decipher.update(raw.subarray(NONCE + TAG)), decipher.final()]).toString("utf8");
    } catch {
      return undefined;
    }
  }
}
