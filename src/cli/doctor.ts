/**
 * `st2bot doctor`: finds what is wrong before users do. Each check prints ✓, ! (warning) or ✗
 * (error) with what to do about it; the exit code is 1 when any check failed. Only the
 * checklist is printed: log lines that parts of st2bot write while being checked are held back
 * and shown as details under the ✗ they belong to.
 */
import { accessSync, constants, mkdirSync } from "node:fs";
import type { Config } from "../config/schema.ts";
import { derivedUrls } from "../config/load.ts";
import { St2Client } from "../st2/client.ts";
import { sectionOf } from "../chat/backend.ts";
import { BACKENDS, backendNamed } from "../chat/registry.ts";
import { captureLogs } from "../lib/log.ts";
import { loadSecretsKey } from "../app.ts";
import { checkStackStorm, checkUrls, type Check } from "./doctor-st2.ts";
import { describeError } from "../lib/errors.ts";

const mark: Record<Check["verdict"], string> = { ok: "✓", warn: "!", fail: "✗" };

/**
 * Runs every check, printing each verdict to `io.stdout` as it comes, and resolves with the exit
 * code: 1 when any check failed, else 0 (warnings do not fail). `client` is for tests.
 */
export async function runDoctor(config: Config, io: { stdout: (s: string) => void }, client = St2Client.fromConfig(config, { timeoutMs: 5000 })): Promise<number> {
  const checks: Check[] = [];
  const held: string[] = [];
  // Runtime log lines would interleave with the checklist: hold them for the ✗ they explain.
  const restore = captureLogs((line) => held.push(line.replace(/^\S+ (\S+)\s+/, "$1 ")), "warn");
  const add = (c: Check) => {
    checks.push(c);
    const details = c.verdict === "fail" ? held.map((l) => `\n    · ${l}`).join("") : "";
    held.length = 0;
    io.stdout(`${mark[c.verdict]} ${c.what}${c.fix ? `\n    → ${c.fix}` : ""}${details}\n`);
  };
  try {
    io.stdout("st2bot doctor\n");
    add({ verdict: "ok", what: "configuration is valid" });
    for (const d of derivedUrls(config)) {
      const why = d.given === undefined ? "not set: derived from stackstorm.api_url, as hubot-stackstorm does" : `given ${d.given}; /v1 appended, as hubot-stackstorm does`;
      add({ verdict: "ok", what: `stackstorm.${d.key}: using ${d.used} (${why})` });
    }
    checkUrls(config).forEach(add);
    checkChat(config).forEach(add);
    for (const c of await probeChat(config)) add(c);
    checkLocal(config).forEach(add);
    if (config.stackstorm.rbac_auth.clientside && config.stackstorm.secrets_store === "encrypted") add(await checkSecretsKey(config));
    if (config.cluster) for (const c of await (await import("../cluster/doctor.ts")).checkCluster(config)) add(c);
    for await (const c of checkStackStorm(config, client)) add(c);
  } finally {
    restore();
  }
  const failed = checks.filter((c) => c.verdict === "fail").length;
  const warned = checks.filter((c) => c.verdict === "warn").length;
  io.stdout(`\n${failed ? `${failed} problem(s)` : "no problems"}${warned ? `, ${warned} warning(s)` : ""} found\n`);
  return failed ? 1 : 0;
}

/** The chosen backend's settings, through the same `missing` list its constructor checks. */
function checkChat(config: Config): Check[] {
  const name = config.bot.backend;
  const entry = backendNamed(name);
  if (!entry) return [{ verdict: "fail", what: `bot.backend "${name}" is not a chat backend`, fix: `use one of ${BACKENDS.map((b) => b.name).join(", ")}` }];
  const section = sectionOf(entry, config);
  const missing = entry.missing(section);
  if (missing.length) return [{ verdict: "fail", what: `chat backend "${name}" is missing settings`, fix: `set ${missing.join("; ")}` }];
  const advice = (entry.advice?.(section) ?? []).map((a): Check => ({ verdict: "warn", ...a }));
  return [{ verdict: "ok", what: `chat backend "${name}" is configured` }, ...advice];
}

/** The backend's live checks (log in, join its rooms) when it offers them and is configured. */
async function probeChat(config: Config): Promise<Check[]> {
  const entry = backendNamed(config.bot.backend);
  if (!entry?.probe || entry.missing(sectionOf(entry, config)).length) return [];
  try {
    return await entry.probe(config);
  } catch (err) {
    return [{ verdict: "fail", what: `cannot check chat backend "${entry.name}": ${describeError(err)}` }];
  }
}

function checkLocal(config: Config): Check[] {
  const out: Check[] = [];
  const dir = config.bot.data_dir;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    accessSync(dir, constants.W_OK);
    out.push({ verdict: "ok", what: `data directory ${dir} (bot.data_dir: database, outbox, sessions) is writable` });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    out.push({ verdict: "fail", what: `data directory ${dir} is not writable (${code})`, fix: "set bot.data_dir to a directory st2bot may write (under systemd: StateDirectory=st2bot gives /var/lib/st2bot)" });
  }
  const wh = config.webhook;
  if (!wh.token && !wh.hmac_secret) out.push({ verdict: "warn", what: "webhook POST /chatops/message is off (no webhook.token or webhook.hmac_secret)", fix: "set webhook.token_file or webhook.hmac_secret_file to accept posts from StackStorm" });
  else out.push({ verdict: "ok", what: "webhook is authenticated" });
  if (config.stackstorm.rbac_auth.clientside && !config.web.enabled) {
    out.push({ verdict: "fail", what: "client-side login needs the web server, but web.enabled is false", fix: "set web.enabled = true" });
  }
  return out;
}

/** The same key check `run` makes at start (loadSecretsKey), so doctor cannot pass a key run refuses. */
async function checkSecretsKey(config: Config): Promise<Check> {
  try {
    await loadSecretsKey(config);
    const source = process.env[config.secrets.key_env] ? `$${config.secrets.key_env}` : `secrets.key_file ${config.secrets.key_file}`;
    return { verdict: "ok", what: `secrets key from ${source} is a valid 32-byte key` };
  } catch (err) {
    return { verdict: "fail", what: `the encrypted secrets store's key: ${describeError(err)}`, fix: "create one: openssl rand -base64 32 (in the variable, or a chmod 600 file named by secrets.key_file)" };
  }
}
