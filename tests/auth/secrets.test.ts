/**
 * The secrets store: AES-256-GCM records bound to their chat user, the key check that refuses a
 * wrong key without touching anything, key loading rules, and key rotation (the store's own
 * `rotate` and the `st2bot secrets rotate-key` command).
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CleartextStore, EncryptedStore, importKey, keyBytes, loadKey } from "../../src/auth/secrets.ts";
import { rotateKeyCli } from "../../src/cli/secrets.ts";
import { parseConfig } from "../../src/config/load.ts";
import { ConfigError } from "../../src/lib/errors.ts";
import { openDatabase, type Database } from "../../src/store/db.ts";
import { tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();

const KEY_A = Buffer.alloc(32, 1).toString("base64");
const KEY_B = Buffer.alloc(32, 2).toString("base64");
const TOKEN = "5d1c0ffee0ddba11abad1dea5eed0123";

let dir: string;
let dbPath: string;
let db: Database;

beforeEach(() => {
  dir = tmp("secrets");
  dbPath = join(dir, "st2bot.sqlite");
  db = openDatabase(dbPath);
});

afterEach(() => {
  db.close();
});

type SecretRow = { chat_user: string; nonce: Uint8Array; ciphertext: Uint8Array };
const rows = (d: Database) => d.query("SELECT chat_user, nonce, ciphertext FROM secrets ORDER BY chat_user").all() as SecretRow[];
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
/** Everything on disk for this database, as one string (main file and WAL). */
const diskBytes = () => ["", "-wal"].map((s) => { try { return readFileSync(dbPath + s).toString("latin1"); } catch { return ""; } }).join("");

describe("EncryptedStore", () => {
  test("round-trips tokens (with expiry) and API keys, and deletes", async () => {
    const store = await EncryptedStore.open(db, await importKey(KEY_A, "test"));
    const expiry = new Date("2031-01-02T03:04:05.000Z");
    await store.put("slack:U1", { kind: "token", token: TOKEN, expiry });
    await store.put("slack:U2", { kind: "apikey", apikey: "api-key-of-bob-0123456789" });
    expect(await store.get("slack:U1")).toEqual({ kind: "token", token: TOKEN, expiry });
    expect(await store.get("slack:U2")).toEqual({ kind: "apikey", apikey: "api-key-of-bob-0123456789" });
    expect(await store.get("slack:U3")).toBeUndefined();
    expect(store.users()).toEqual(["slack:U1", "slack:U2"]);
    expect(await store.delete("slack:U1")).toBe(true);
    expect(await store.delete("slack:U1")).toBe(false);
    expect(store.users()).toEqual(["slack:U2"]);
  });

  test("keeps nothing readable on disk: the token is only in the ciphertext", async () => {
    const store = await EncryptedStore.open(db, await importKey(KEY_A, "test"));
    await store.put("slack:U1", { kind: "token", token: TOKEN });
    expect(diskBytes()).not.toContain(TOKEN);
    expect(diskBytes()).toContain("slack:U1");
  });

  test("uses a fresh 96-bit nonce per record: the same credential twice encrypts differently", async () => {
    const store = await EncryptedStore.open(db, await importKey(KEY_A, "test"));
    const credential = { kind: "token" as const, token: TOKEN };
    await store.put("slack:U1", credential);
    const first = rows(db)[0]!;
    await store.put("slack:U1", credential);
    const second = rows(db)[0]!;
    await store.put("slack:U2", credential);
    const other = rows(db)[1]!;
    expect(first.nonce.byteLength).toBe(12);
    expect(new Set([first, second, other].map((r) => hex(r.nonce))).size).toBe(3);
    expect(new Set([first, second, other].map((r) => hex(r.ciphertext))).size).toBe(3);
    expect(await store.get("slack:U1")).toEqual(credential);
  });

  test("binds each record to its chat user: rows swapped between users do not decrypt", async () => {
    const store = await EncryptedStore.open(db, await importKey(KEY_A, "test"));
    await store.put("slack:alice", { kind: "apikey", apikey: "alice-key-0123456789" });
    await store.put("slack:mallory", { kind: "apikey", apikey: "mallory-key-0123456789" });
    const [alice, mallory] = rows(db);
    const update = db.query("UPDATE secrets SET nonce = ?, ciphertext = ? WHERE chat_user = ?");
    update.run(alice!.nonce, alice!.ciphertext, "slack:mallory");
    update.run(mallory!.nonce, mallory!.ciphertext, "slack:alice");
    await expect(store.get("slack:mallory")).rejects.toThrow();
    await expect(store.get("slack:alice")).rejects.toThrow();
  });

  test("a tampered ciphertext does not decrypt", async () => {
    const store = await EncryptedStore.open(db, await importKey(KEY_A, "test"));
    await store.put("slack:U1", { kind: "token", token: TOKEN });
    const row = rows(db)[0]!;
    const bad = Uint8Array.from(row.ciphertext);
    bad[0] = bad[0]! ^ 1;
    db.query("UPDATE secrets SET ciphertext = ? WHERE chat_user = ?").run(bad, "slack:U1");
    await expect(store.get("slack:U1")).rejects.toThrow();
  });

  test("a wrong key is a clear ConfigError and leaves the store untouched", async () => {
    const store = await EncryptedStore.open(db, await importKey(KEY_A, "test"));
    await store.put("slack:U1", { kind: "token", token: TOKEN });
    await store.put("slack:U2", { kind: "apikey", apikey: "api-key-of-bob-0123456789" });
    db.close(); // checkpoints the WAL: what is on disk is now the whole store
    const before = { disk: diskBytes(), rows: rows((db = openDatabase(dbPath))) };

    const err = await EncryptedStore.open(db, await importKey(KEY_B, "test")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain("does not match");
    expect((err as Error).message).toContain("nothing was changed");
    expect(rows(db)).toEqual(before.rows);
    db.close();
    expect(diskBytes()).toBe(before.disk);

    db = openDatabase(dbPath);
    const again = await EncryptedStore.open(db, await importKey(KEY_A, "test"));
    expect(await again.get("slack:U1")).toEqual({ kind: "token", token: TOKEN });
  });

  test("rotate re-encrypts every record: afterwards only the new key opens the store", async () => {
    const store = await EncryptedStore.open(db, await importKey(KEY_A, "test"));
    await store.put("slack:U1", { kind: "token", token: TOKEN });
    await store.put("slack:U2", { kind: "apikey", apikey: "api-key-of-bob-0123456789" });
    const before = rows(db);
    expect(await store.rotate(await importKey(KEY_B, "test"))).toBe(2);
    const after = rows(db);
    expect(after.map((r) => hex(r.ciphertext))).not.toEqual(before.map((r) => hex(r.ciphertext)));
    expect(await store.get("slack:U1")).toEqual({ kind: "token", token: TOKEN });

    await expect(EncryptedStore.open(db, await importKey(KEY_A, "test"))).rejects.toBeInstanceOf(ConfigError);
    const reopened = await EncryptedStore.open(db, await importKey(KEY_B, "test"));
    expect(await reopened.get("slack:U1")).toEqual({ kind: "token", token: TOKEN });
    expect(await reopened.get("slack:U2")).toEqual({ kind: "apikey", apikey: "api-key-of-bob-0123456789" });
  });
});

describe("keys", () => {
  test("accepts 32 bytes as base64 or hex and refuses anything else, clearly", async () => {
    await importKey(KEY_A, "test");
    await importKey(Buffer.alloc(32, 7).toString("hex"), "test");
    await expect(importKey(Buffer.alloc(16).toString("base64"), "$ST2BOT_SECRETS_KEY")).rejects.toThrow(/\$ST2BOT_SECRETS_KEY: the secrets key must be 32 bytes/);
  });

  test("only canonical base64 of exactly 32 bytes, or 64 hex digits: no lenient decoding (issue 10, item 6)", async () => {
    const good = Buffer.alloc(32, 0xa5).toString("base64");
    expect(Buffer.from(keyBytes(`${good}\n`, "f"))).toEqual(Buffer.alloc(32, 0xa5));
    const refused = [
      "this-is-not-base64-but-has-43-characters!!!", // Node's decoder skipped the bad ones: 43 chars became 24 bytes or so
      `${"A".repeat(42)}!=`,
      good.slice(0, 43), // no padding
      `${good.slice(0, 42)}B=`, // non-canonical: trailing bits set
      good.replace(/\+/g, "-").replace(/\//g, "_").replace(/^./, "-"), // URL-safe alphabet
      `${good.slice(0, 20)} ${good.slice(20)}`,
      `${good}=`,
      Buffer.alloc(31, 1).toString("hex"),
      `${Buffer.alloc(32, 1).toString("hex")}0`,
      Buffer.alloc(33, 1).toString("base64"),
    ];
    for (const material of refused) {
      let error = "";
      try {
        keyBytes(material, "$ST2BOT_SECRETS_KEY");
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        error = String(err);
      }
      expect(error).toContain("$ST2BOT_SECRETS_KEY: the secrets key must be 32 bytes as canonical base64");
      expect(error).not.toContain(material.trim());
      await expect(importKey(material, "k")).rejects.toBeInstanceOf(ConfigError);
    }
  });

  test("takes the key from the environment variable first, then the key file", async () => {
    const file = join(dir, "key");
    writeFileSync(file, KEY_B + "\n", { mode: 0o600 });
    const fromEnv = await loadKey({ keyEnv: "K", keyFile: file, env: { K: KEY_A } });
    const fromFile = await loadKey({ keyEnv: "K", keyFile: file, env: {} });
    const store = await EncryptedStore.open(db, fromEnv);
    await store.put("u", { kind: "token", token: TOKEN });
    // The check record was written with the env key: the file's (different) key is refused.
    await expect(EncryptedStore.open(db, fromFile)).rejects.toBeInstanceOf(ConfigError);
  });

  test("refuses a key file readable by group or others", async () => {
    const file = join(dir, "key");
    writeFileSync(file, KEY_A);
    chmodSync(file, 0o644);
    await expect(loadKey({ keyEnv: "K", keyFile: file, env: {} })).rejects.toThrow(/readable by group or others; run chmod 600/);
    chmodSync(file, 0o640);
    await expect(loadKey({ keyEnv: "K", keyFile: file, env: {} })).rejects.toBeInstanceOf(ConfigError);
    chmodSync(file, 0o600);
    await loadKey({ keyEnv: "K", keyFile: file, env: {} });
  });

  test("no key at all says how to make one", async () => {
    await expect(loadKey({ keyEnv: "ST2BOT_SECRETS_KEY", env: {} })).rejects.toThrow(/export ST2BOT_SECRETS_KEY=\$\(openssl rand -base64 32\)/);
    await expect(loadKey({ keyEnv: "K", keyFile: join(dir, "missing"), env: {} })).rejects.toThrow(/cannot read/);
  });
});

describe("CleartextStore", () => {
  test("keeps credentials in this process's memory only", async () => {
    const store = new CleartextStore();
    await store.put("slack:U1", { kind: "token", token: TOKEN });
    expect(await store.get("slack:U1")).toEqual({ kind: "token", token: TOKEN });
    expect(store.users()).toEqual(["slack:U1"]);
    // A new store (a restart) knows nothing, and nothing reached the database.
    expect(await new CleartextStore().get("slack:U1")).toBeUndefined();
    expect(rows(db)).toEqual([]);
    expect(diskBytes()).not.toContain(TOKEN);
  });
});

describe("st2bot secrets rotate-key", () => {
  const configFor = (extra = "") => parseConfig(`[bot]\ndata_dir = ${JSON.stringify(dir)}\n${extra}`, "<test>", {});
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) } };
  };
  const seed = async () => {
    const store = await EncryptedStore.open(db, await importKey(KEY_A, "test"));
    await store.put("slack:U1", { kind: "token", token: TOKEN });
    await store.put("slack:U2", { kind: "apikey", apikey: "api-key-of-bob-0123456789" });
    await store.put("slack:U3", { kind: "apikey", apikey: "api-key-of-eve-0123456789" });
  };

  test("re-encrypts with $<key_env>_NEW and says what to change", async () => {
    await seed();
    const t = io();
    const code = await rotateKeyCli(configFor(), t.io, { env: { ST2BOT_SECRETS_KEY: KEY_A, ST2BOT_SECRETS_KEY_NEW: KEY_B } });
    expect(t.err.join("")).toBe("");
    expect(code).toBe(0);
    const out = t.out.join("");
    expect(out).toContain("Re-encrypted 3 stored credentials");
    expect(out).toContain("set ST2BOT_SECRETS_KEY to the value of ST2BOT_SECRETS_KEY_NEW");
    expect(out).toContain("unset ST2BOT_SECRETS_KEY_NEW");
    expect(out).not.toContain(KEY_A);
    expect(out).not.toContain(KEY_B);

    await expect(EncryptedStore.open(db, await importKey(KEY_A, "test"))).rejects.toBeInstanceOf(ConfigError);
    const store = await EncryptedStore.open(db, await importKey(KEY_B, "test"));
    expect(await store.get("slack:U1")).toEqual({ kind: "token", token: TOKEN });
    expect(await store.get("slack:U3")).toEqual({ kind: "apikey", apikey: "api-key-of-eve-0123456789" });
  });

  test("takes the new key from --new-key-file and the old one from secrets.key_file", async () => {
    await seed();
    const oldFile = join(dir, "old.key");
    const newFile = join(dir, "new.key");
    writeFileSync(oldFile, KEY_A, { mode: 0o600 });
    writeFileSync(newFile, KEY_B, { mode: 0o600 });
    const t = io();
    const config = configFor(`[secrets]\nkey_file = ${JSON.stringify(oldFile)}`);
    expect(await rotateKeyCli(config, t.io, { newKeyFile: newFile, env: {} })).toBe(0);
    expect(t.out.join("")).toContain(`replace the contents of ${oldFile} with the contents of ${newFile}`);
    await EncryptedStore.open(db, await importKey(KEY_B, "test"));
  });

  test("refuses without a new key, with the wrong current key, or without a database; changes nothing", async () => {
    await seed();
    const before = rows(db);
    await expect(rotateKeyCli(configFor(), io().io, { env: { ST2BOT_SECRETS_KEY: KEY_A } })).rejects.toThrow(/export ST2BOT_SECRETS_KEY_NEW=|--new-key-file/);
    await expect(rotateKeyCli(configFor(), io().io, { env: { ST2BOT_SECRETS_KEY: KEY_B, ST2BOT_SECRETS_KEY_NEW: KEY_B } })).rejects.toThrow(/does not match/);
    expect(rows(db)).toEqual(before);
    const elsewhere = parseConfig(`[bot]\ndata_dir = ${JSON.stringify(join(dir, "nope"))}`, "<test>", {});
    await expect(rotateKeyCli(elsewhere, io().io, { env: { ST2BOT_SECRETS_KEY: KEY_A, ST2BOT_SECRETS_KEY_NEW: KEY_B } })).rejects.toThrow(/no st2bot database/);
  });

  test("has nothing to rotate with the cleartext store", async () => {
    const t = io();
    expect(await rotateKeyCli(configFor(`[stackstorm]\nsecrets_store = "cleartext"`), t.io, { env: {} })).toBe(1);
    expect(t.err.join("")).toContain("memory only");
  });
});
