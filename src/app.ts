/**
 * The composition root: builds every part from one Config and wires the flows of DESIGN.md
 * (chat → router → ACL → st2 command → StackStorm; stream/webhook → outbox → chat).
 * `st2bot run`, `st2bot demo`, the end-to-end tests and the benchmarks all start st2bot here.
 */
import { join } from "node:path";
import type { Config } from "./config/schema.ts";
import type { ChatBackend, Outgoing, Target } from "./chat/types.ts";
import { createBackend } from "./chat/registry.ts";
import { St2Client } from "./st2/client.ts";
import type { FetchFn } from "./st2/http.ts";
import { AliasCache } from "./st2/aliascache.ts";
import { AliasIndex } from "./st2/aliases/index.ts";
import { St2Stream, type StreamState } from "./st2/stream.ts";
import { openDatabase, type Database } from "./store/db.ts";
import { Outbox } from "./delivery/outbox.ts";
import type { Announcement } from "./delivery/announcement.ts";
import { parseStreamAnnouncement } from "./delivery/announcement.ts";
import { createRouter } from "./bot/router.ts";
import { createAcl } from "./bot/middleware/acl.ts";
import { builtinCommands, unknownCommandReply } from "./bot/commands/builtins.ts";
import { st2HelpCommand, st2RunCommand, type St2CommandDeps } from "./bot/commands/st2.ts";
import { isAdmin } from "./bot/acl.ts";
import type { Command } from "./bot/types.ts";
import { chatUserKey, loginHint, sessionCommands } from "./bot/commands/sessions.ts";
import { inquiryCommands } from "./bot/commands/inquiries.ts";
import { outboxCommands } from "./bot/commands/outbox.ts";
import { metricsPlugin } from "./web/metrics.ts";
import { wireInquiries } from "./bot/inquiries.ts";
import { Identities } from "./auth/identity.ts";
import { CleartextStore, EncryptedStore, loadKey, type SecretStore } from "./auth/secrets.ts";
import { Sessions } from "./auth/sessions.ts";
import { CommandError } from "./lib/errors.ts";
import { createServer, peerAddress, type WebServer } from "./web/server.ts";
import { loginPlugin } from "./web/login.ts";
import { webhookPlugin } from "./web/webhook.ts";
import { logger, registerSecret, setLogLevel } from "./lib/log.ts";
import { VERSION } from "./version.ts";

const log = logger("app");

export interface AppOptions {
  config: Config;
  /** A backend built by the caller (tests, the demo's terminal); default from `[bot] backend`. */
  backend?: ChatBackend;
  /** Database file; default `<data_dir>/st2bot.sqlite`. */
  dbPath?: string;
  /** Stream idle timeout (tests shorten it). */
  streamIdleTimeoutMs?: number;
  /** The fetch StackStorm requests go through (benchmarks time it). */
  fetch?: FetchFn;
}

export interface App {
  config: Config;
  backend: ChatBackend;
  client: St2Client;
  aliases: AliasCache;
  outbox: Outbox;
  db: Database;
  web?: WebServer;
  startedAt: Date;
  streamState(): { state: StreamState; detail?: string };
  /** Sends a message durably to a target (replies go through the outbox too). */
  deliver(target: Target, out: Outgoing): Promise<void>;
  stop(): Promise<void>;
}

/** Turns a reply target into the announcement shape the outbox keeps. */
export function targetAnnouncement(target: Target, out: Outgoing): Announcement {
  return target.kind === "room"
    ? { message: out.text, channel: target.id, extra: out.extra, context: target.thread ? { thread: target.thread } : undefined }
    : { message: out.text, user: target.id, whisper: true, extra: out.extra };
}

export async function startApp(opts: AppOptions): Promise<App> {
  const { config } = opts;
  // The environment wins over the file, as for every other setting.
  setLogLevel((process.env.ST2BOT_LOG_LEVEL as typeof config.bot.log_level | undefined) ?? config.bot.log_level);
  registerConfigSecrets(config);
  const startedAt = new Date();
  const backend = opts.backend ?? (await createBackend(config));
  const db = openDatabase(opts.dbPath ?? join(config.bot.data_dir, "st2bot.sqlite"));
  const client = St2Client.fromConfig(config, { fetch: opts.fetch });
  const aliases = new AliasCache({ load: () => client.listAliases() });
  const outbox = new Outbox({
    db,
    backend,
    deadAfterMs: config.outbox.dead_after_seconds * 1000,
    maxRetryDelayMs: config.outbox.max_retry_delay_seconds * 1000,
  });
  const deliver = async (target: Target, out: Outgoing) => {
    outbox.enqueue(targetAnnouncement(target, out), "bot");
  };

  const inquiries = wireInquiries({ config, enqueue: (a) => outbox.enqueue(a, "stream"), defaultChannel: config.stackstorm.inquiry_channel });
  let stream: { state: StreamState; detail?: string } = { state: "idle" };
  const st2Stream = new St2Stream({
    client,
    routeKey: config.stackstorm.route_key,
    idleTimeoutMs: opts.streamIdleTimeoutMs,
    extraEvents: inquiries.events,
    onEvent: (event) => {
      if (inquiries.onEvent(event)) return;
      if (event.name.startsWith("st2.actionalias__")) {
        aliases.applyEvent(event.name, event.data);
        return;
      }
      if (!event.name.startsWith("st2.announcement__")) return;
      const parsed = parseStreamAnnouncement(event.data);
      if (!parsed.ok) log.warn("skipped a malformed announcement", { event: event.name, error: parsed.error });
      else outbox.enqueue(parsed.value, "stream");
    },
    onConnect: () => void aliases.refresh(),
    onState: (state, detail) => (stream = { state, detail }),
  });

  const disabled = disabledIndex(aliases);
  const runName = config.stackstorm.plugin_prefix || "st2";
  const acl = createAcl({
    rules: config.access_controls,
    defaults: config.access_controls_default,
    admins: config.bot.admins,
    hideRestrictedAccess: config.bot.hide_restricted_access,
    runsAliases: (cmd: Command) => cmd.plugin === "St2" && cmd.name === runName,
  });
  const identities = await openIdentities(config, db, client).catch((err) => {
    db.close();
    throw err;
  });
  const hide = config.bot.hide_restricted_commands;
  const st2Deps: St2CommandDeps = {
    config,
    aliases: () => ({ index: aliases.index, disabled: disabled(), loaded: aliases.loaded }),
    clientFor: async (ctx) => {
      const found = await identities.clientFor(chatUserKey(ctx.backend.name, ctx.msg));
      if (!found.ok) throw new CommandError(`You have not linked your StackStorm identity yet: ${loginHint(config)}.`);
      return { client: found.client, personal: identities.clientside };
    },
    expired: async (ctx) => {
      await identities.forget(chatUserKey(ctx.backend.name, ctx.msg));
      return `StackStorm no longer accepts your login (it expired or was revoked), so I forgot it. To log in again, ${loginHint(config)}.`;
    },
    authorizeAlias: acl.authorizeAlias,
    // Beyond Errbot: !st2help always lists only the aliases the ACL lets this user run.
    aliasVisible: (ctx, ref, display) => acl.mayListAlias(ctx, runCommand, ref, `${runName} ${display}`),
  };
  const runCommand = st2RunCommand(st2Deps);
  const st2Commands = [
    runCommand,
    st2HelpCommand(st2Deps),
    ...inquiryCommands(st2Deps),
    ...sessionCommands(config, identities),
    ...outboxCommands(config, outbox),
  ];
  const builtins = builtinCommands({
    prefix: config.bot.prefix,
    commands: () => commands,
    listFilter: hide ? acl.mayList : undefined,
    status: {
      version: VERSION,
      startedAt: startedAt.getTime(),
      chat: () => backend.status(),
      st2: () => {
        const h = client.health();
        return { state: h.state, detail: h.reason };
      },
      aliases: () => aliases.index.size,
      stream: () => stream,
      outbox: () => outbox.stats(),
    },
  });
  const commands: Command[] = [...st2Commands, ...builtins];
  const handler = createRouter(backend, {
    prefix: config.bot.prefix,
    botName: config.bot.name,
    commands: config.stackstorm.plugin_prefix ? commands : commands.filter((c) => c !== runCommand),
    fallback: runCommand,
    fallbackAfterPrefix: !config.stackstorm.plugin_prefix,
    middleware: [acl.middleware],
    isAdmin: (msg) => isAdmin(msg.from.aclId, config.bot.admins),
    deliver,
    // Under the source_channel StackStorm will send the result to: one queue per place.
    reply: async (msg, out) => {
      outbox.enqueue({ message: out.text, channel: backend.sourceChannel(msg), extra: out.extra, context: msg.thread ? { thread: msg.thread } : undefined }, "bot");
    },
    unknown: (ctx, typed) => ctx.reply(unknownCommandReply(typed, commands.map((c) => c.name), config.bot.prefix)),
  });

  let web: WebServer | undefined;
  if (config.web.enabled) {
    web = createServer({
      config: config.web,
      plugins: [
        webhookPlugin({ config: config.webhook, outbox }),
        loginPlugin({ identities, config, peerAddress }),
        metricsPlugin({
          outbox: () => outbox.stats(),
          aliases: () => aliases.index.size,
          streamUp: () => stream.state === "open",
          chatUp: () => backend.status().state === "connected",
          st2AuthOk: () => client.health().state !== "failing",
          startedAt: startedAt.getTime(),
        }),
      ],
    });
    await web.listen();
  }

  outbox.start();
  // Aliases first, so the first chat line already finds them; a StackStorm that is down
  // does not stop st2bot: the stream's reconnect and the timer load them later.
  const loaded = await aliases.refresh();
  if (!loaded) log.warn("StackStorm's action aliases could not be loaded yet; st2bot keeps running and retries", { reason: aliases.lastError });
  await backend.start(handler);
  aliases.startTimer(config.stackstorm.timer_update * 1000);
  client.startHealthCheck(config.stackstorm.timer_update * 1000);
  st2Stream.start();
  log.info("st2bot ready", { version: VERSION, backend: backend.name, aliases: aliases.index.size, ms: Date.now() - startedAt.getTime() });

  return {
    config,
    backend,
    client,
    aliases,
    outbox,
    db,
    web,
    startedAt,
    streamState: () => stream,
    deliver,
    stop: async () => {
      aliases.stop();
      client.stopHealthCheck();
      await st2Stream.stop();
      await backend.stop();
      await outbox.stop();
      await web?.stop();
      db.close();
    },
  };
}

/** The secrets store and sessions; the encrypted store needs its key only under client-side auth. */
async function openIdentities(config: Config, db: Database, client: St2Client): Promise<Identities> {
  let store: SecretStore = new CleartextStore();
  if (config.stackstorm.rbac_auth.clientside && config.stackstorm.secrets_store === "encrypted") {
    const key = await loadKey({ keyEnv: config.secrets.key_env, keyFile: config.secrets.key_file });
    store = await EncryptedStore.open(db, key);
  }
  return new Identities(config, client, store, new Sessions(db, config.stackstorm.session_ttl * 1000));
}

/** An index of the disabled aliases (as if enabled), rebuilt only when the set changes. */
function disabledIndex(cache: AliasCache): () => AliasIndex {
  let source: unknown;
  let index = new AliasIndex([]);
  return () => {
    if (cache.aliases !== source) {
      source = cache.aliases;
      index = new AliasIndex(cache.aliases.filter((a) => a.enabled === false).map((a) => ({ ...a, enabled: true })));
    }
    return index;
  };
}

function registerConfigSecrets(config: Config): void {
  const auth = config.stackstorm.api_auth;
  for (const s of [auth.apikey, auth.token, auth.user?.password, config.webhook.token, config.webhook.hmac_secret,
    config.slack.bot_token, config.slack.app_token, config.mattermost.token, config.mattermost.password, config.xmpp.password]) {
    registerSecret(s);
  }
}
