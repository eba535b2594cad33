/**
 * Where users' StackStorm credentials are kept under client-side auth. Only a token or an API
 * key is ever stored — never a password. `encrypted` (the default) keeps them in SQLite with
 * AES-256-GCM, a fresh 96-bit nonce per record and the chat user as associated data, so a
 * record cannot be moved to another user; `cleartext` keeps them in memory only.
 */
import { readFileSync, statSync } from "node:fs";
import type { Database } from "../store/db.ts";
import type { Credential } from "../st2/credentials.ts";
import { ConfigError } from "../lib/errors.ts";

/** Users' StackStorm credentials by chat user: one per user, a `put` replaces the previous. */
export interface SecretStore {
  readonly kind: "encrypted" | "cleartext";
  get(user: string): Promise<Credential | undefined>;
  put(user: string, credential: Credential): Promise<void>;
  /** True when the user had a credential. */
  delete(user: string): Promise<boolean>;
  /** The chat users with a stored credential. */
  users(): string[];
}

/** `secrets_store = "cleartext"`: memory only, so every link is gone after a restart. */
export class CleartextStore implements SecretStore {
  readonly kind = "cleartext";
  private readonly map = new Map<string, Credential>();
  async get(user: string) {
    return this.map.get(user);
  }
  async put(user: string, credential: Credential) {
    this.map.set(user, credential);
  }
  async delete(user: string) {
    return this.map.delete(user);
  }
  users() {
    return [...this.map.keys()];
  }
}

/** The text sealed with the first key used, to recognise a wrong key at start. */
export const KEY_CHECK = "st2bot-secrets-key-check";
const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * The 32 key bytes from their text: exactly 64 hex digits, or the canonical base64 of 32 bytes
 * (44 characters ending in one "=", as `openssl rand -base64 32` prints). Surrounding whitespace
 * (a file's newline) is ignored. Anything else is a clear error: Node's base64 decoder skips
 * characters it does not know, so a 43-character typo would otherwise become some other key.
 * The error never shows the material.
 */
export function keyBytes(material: string, source: string): Uint8Array<ArrayBuffer> {
  const text = material.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return new Uint8Array(Buffer.from(text, "hex"));
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) {
    const bytes = Buffer.from(text, "base64");
    if (bytes.length === 32 && bytes.toString("base64") === text) return new Uint8Array(bytes);
  }
  throw new ConfigError(
    `${source}: the secrets key must be 32 bytes as canonical base64 (44 characters, as printed by openssl rand -base64 32) or as 64 hex digits (${text.length} characters given)`,
  );
}

/** Imports a 32-byte key written as keyBytes accepts it; anything else is a clear error. */
export async function importKey(material: string, source: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", keyBytes(material, source), "AES-GCM", false, ["encrypt", "decrypt"]);
}

/** Reads the key from the environment variable, else the key file (which must be private). */
export async function loadKey(opts: { keyEnv: string; keyFile?: string; env?: Record<string, string | undefined> }): Promise<CryptoKey> {
  const env = opts.env ?? process.env;
  const fromEnv = env[opts.keyEnv];
  if (fromEnv) return importKey(fromEnv, `$${opts.keyEnv}`);
  if (opts.keyFile) {
    let mode: number;
    try {
      mode = statSync(opts.keyFile).mode;
    } catch {
      throw new ConfigError(`secrets.key_file: cannot read ${opts.keyFile}`);
    }
    if (mode & 0o077) throw new ConfigError(`secrets.key_file: ${opts.keyFile} is readable by group or others; run chmod 600 ${opts.keyFile}`);
    let material: string;
    try {
      material = readFileSync(opts.keyFile, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
      throw new ConfigError(`secrets.key_file: cannot read ${opts.keyFile} (${code}); st2bot's user must be able to read it`);
    }
    return importKey(material, opts.keyFile);
  }
  throw new ConfigError(
    `the encrypted secrets store needs a key: export ${opts.keyEnv}=$(openssl rand -base64 32), or set secrets.key_file (or use secrets_store = "cleartext")`,
  );
}

/** AES-256-GCM with a fresh 96-bit nonce, `aad` (the chat user) bound as associated data; also used by cluster mode's Redis store. */
export async function seal(key: CryptoKey, plaintext: string, aad: string): Promise<{ nonce: Uint8Array; ciphertext: Uint8Array }> {
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: enc.encode(aad) }, key, enc.encode(plaintext)),
  );
  return { nonce, ciphertext };
}

/** The plaintext `seal` sealed for `aad`; rejects when the key, the user or the bytes differ. */
export async function open(key: CryptoKey, nonce: Uint8Array, ciphertext: Uint8Array, aad: string): Promise<string> {
  // Copies: SQLite hands back views whose buffer type WebCrypto's types do not accept.
  const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: new Uint8Array(nonce), additionalData: enc.encode(aad) }, key, new Uint8Array(ciphertext));
  return dec.decode(plain);
}

/** `secrets_store = "encrypted"`: AES-256-GCM records in SQLite (see the file comment). */
export class EncryptedStore implements SecretStore {
  readonly kind = "encrypted";

  private constructor(
    private readonly db: Database,
    private key: CryptoKey,
  ) {}

  /**
   * Opens the store, checking the key against the record written with the first key used.
   * A wrong key is a clear startup error that changes nothing in the database.
   */
  static async open(db: Database, key: CryptoKey): Promise<EncryptedStore> {
    const row = db.query("SELECT value FROM meta WHERE key = 'secrets_key_check'").get() as { value: string } | null;
    if (row) {
      const [nonce, ciphertext] = row.value.split(".").map((p) => Buffer.from(p, "base64"));
      const ok = await open(key, nonce!, ciphertext!, KEY_CHECK).then((t) => t === KEY_CHECK, () => false);
      if (!ok) throw new ConfigError("the secrets key does not match the one the secrets store was written with; nothing was changed. Use the original key (or rotate with `st2bot secrets rotate-key`).");
    } else {
      await EncryptedStore.writeKeyCheck(db, key);
    }
    return new EncryptedStore(db, key);
  }

  private static async writeKeyCheck(db: Database, key: CryptoKey): Promise<void> {
    const { nonce, ciphertext } = await seal(key, KEY_CHECK, KEY_CHECK);
    db.query("INSERT OR REPLACE INTO meta (key, value) VALUES ('secrets_key_check', ?)").run(
      `${Buffer.from(nonce).toString("base64")}.${Buffer.from(ciphertext).toString("base64")}`,
    );
  }

  async get(user: string): Promise<Credential | undefined> {
    const row = this.db.query("SELECT nonce, ciphertext FROM secrets WHERE chat_user = ?").get(user) as { nonce: Uint8Array; ciphertext: Uint8Array } | null;
    if (!row) return undefined;
    const c = JSON.parse(await open(this.key, row.nonce, row.ciphertext, user)) as Credential & { expiry?: string };
    return c.kind === "token" && c.expiry ? { ...c, expiry: new Date(c.expiry) } : c;
  }

  async put(user: string, credential: Credential): Promise<void> {
    const { nonce, ciphertext } = await seal(this.key, JSON.stringify(credential), user);
    this.db.query("INSERT OR REPLACE INTO secrets (chat_user, nonce, ciphertext, updated_at) VALUES (?, ?, ?, ?)").run(user, nonce, ciphertext, Date.now());
  }

  async delete(user: string): Promise<boolean> {
    return this.db.query("DELETE FROM secrets WHERE chat_user = ?").run(user).changes > 0;
  }

  users(): string[] {
    return (this.db.query("SELECT chat_user FROM secrets ORDER BY chat_user").all() as { chat_user: string }[]).map((r) => r.chat_user);
  }

  /** Re-encrypts every record under `newKey` in one transaction; returns how many. */
  async rotate(newKey: CryptoKey): Promise<number> {
    const rows = this.db.query("SELECT chat_user, nonce, ciphertext FROM secrets").all() as { chat_user: string; nonce: Uint8Array; ciphertext: Uint8Array }[];
    const resealed = await Promise.all(rows.map(async (r) => ({ user: r.chat_user, ...(await seal(newKey, await open(this.key, r.nonce, r.ciphertext, r.chat_user), r.chat_user)) })));
    const check = await seal(newKey, KEY_CHECK, KEY_CHECK);
    this.db.transaction(() => {
      const update = this.db.query("UPDATE secrets SET nonce = ?, ciphertext = ?, updated_at = ? WHERE chat_user = ?");
      for (const r of resealed) update.run(r.nonce, r.ciphertext, Date.now(), r.user);
      this.db.query("INSERT OR REPLACE INTO meta (key, value) VALUES ('secrets_key_check', ?)").run(
        `${Buffer.from(check.nonce).toString("base64")}.${Buffer.from(check.ciphertext).toString("base64")}`,
      );
    })();
    this.key = newKey;
    return resealed.length;
  }
}
