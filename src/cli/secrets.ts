/**
 * `st2bot secrets rotate-key`: re-encrypts every stored user credential with a new key.
 *
 * The current key comes from where st2bot reads it (`$<secrets.key_env>`, else
 * `secrets.key_file`). The new key comes from `--new-key-file <path>` (a private file, as
 * `key_file`) when given, else from `$<secrets.key_env>_NEW` (e.g. ST2BOT_SECRETS_KEY_NEW).
 * All records and the key check are rewritten in one transaction: afterwards only the new key
 * opens the store. Run it while st2bot is stopped, then give st2bot the new key.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config/schema.ts";
import { EncryptedStore, loadKey } from "../auth/secrets.ts";
import { openDatabase } from "../store/db.ts";
import { ConfigError } from "../lib/errors.ts";

export interface RotateKeyOptions {
  /** `--new-key-file`: the new key, base64 (or hex) of 32 bytes, in a file only the owner can read. */
  newKeyFile?: string;
  /** The environment (tests pass their own). */
  env?: Record<string, string | undefined>;
}

type Io = { stdout: (s: string) => void; stderr: (s: string) => void };

/** Rotates the key; returns the exit code. Problems are ConfigErrors (main prints them). */
export async function rotateKeyCli(config: Config, io: Io, opts: RotateKeyOptions = {}): Promise<number> {
  const env = opts.env ?? process.env;
  if (config.stackstorm.secrets_store !== "encrypted") {
    io.stderr(`st2bot secrets rotate-key: nothing to rotate: secrets_store is "${config.stackstorm.secrets_store}", which keeps credentials in memory only\n`);
    return 1;
  }
  const keyEnv = config.secrets.key_env;
  const newEnv = `${keyEnv}_NEW`;
  const dbPath = join(config.bot.data_dir, "st2bot.sqlite");
  // Opening would create an empty database: a wrong data_dir must not look like success.
  if (!existsSync(dbPath)) throw new ConfigError(`bot.data_dir: there is no st2bot database at ${dbPath}; nothing to rotate`);

  const oldKey = await loadKey({ keyEnv, keyFile: config.secrets.key_file, env });
  const newKey = await newKeyFrom(opts.newKeyFile, newEnv, env);

  const db = openDatabase(dbPath);
  try {
    const store = await EncryptedStore.open(db, oldKey);
    const count = await store.rotate(newKey);
    io.stdout(`Re-encrypted ${count} stored credential${count === 1 ? "" : "s"} in ${dbPath} with the new key; the old key no longer opens the store.\n`);
    io.stdout(nextSteps(config, opts.newKeyFile, newEnv, env));
    return 0;
  } finally {
    db.close();
  }
}

/** The new key: `--new-key-file` wins; else `$<key_env>_NEW`; else a clear error saying how. */
async function newKeyFrom(file: string | undefined, newEnv: string, env: Record<string, string | undefined>): Promise<CryptoKey> {
  if (file) return loadKey({ keyEnv: newEnv, keyFile: file, env: {} });
  if (!env[newEnv]) {
    throw new ConfigError(`st2bot secrets rotate-key needs the new key: export ${newEnv}=$(openssl rand -base64 32), or pass --new-key-file <path>`);
  }
  return loadKey({ keyEnv: newEnv, env });
}

/** What the operator changes before starting st2bot again, for where the key lives. */
function nextSteps(config: Config, newKeyFile: string | undefined, newEnv: string, env: Record<string, string | undefined>): string {
  const keyEnv = config.secrets.key_env;
  const source = newKeyFile ? `the contents of ${newKeyFile}` : `the value of ${newEnv}`;
  const steps = env[keyEnv] || !config.secrets.key_file
    ? [`set ${keyEnv} to ${source} wherever st2bot's environment is defined (systemd unit, EnvironmentFile, container)`]
    : [`replace the contents of ${config.secrets.key_file} with ${source} (keep it chmod 600)`];
  if (!newKeyFile) steps.push(`unset ${newEnv}`);
  steps.push("start st2bot again; with the old key it refuses to start and changes nothing");
  return `Next:\n${steps.map((s, i) => `  ${i + 1}. ${s}\n`).join("")}`;
}
