/**
 * The composition root: builds every part from one Config and wires the flows of DESIGN.md
 * (chat → bot → StackStorm; stream/webhook → outbox → chat). `st2bot run`, `st2bot demo`,
 * the end-to-end tests and the benchmarks all start st2bot here.
 */
import { dirname, join } from "node:path";
import type { Config } from "./config/schema.ts";
import type { ChatBackend } from "./chat/types.ts";
import { createBackend } from "./chat/registry.ts";
import { St2Client } from "./st2/client.ts";
import type { FetchFn } from "./st2/http.ts";
import { AliasCache } from "./st2/aliascache.ts";
import { AliasIndex } from "./st2/aliases/index.ts";
import { servedBy } from "./st2/packs.ts";
import { St2Stream, type StreamStatus } from "./st2/stream.ts";
import { openDatabase, type Database } from "./store/db.ts";
import { Outbox } from "./delivery/outbox.ts";
import { Sealer } from "./store/seal.ts";
import { parseStreamAnnouncement, type Announcement } from "./delivery/announcement.ts";
import { createBot } from "./bot/index.ts";
import type { StatusSource } from "./bot/status.ts";
import { wireInquiries } from "./bot/inquiries/wiring.ts";
import { TwoFactor } from "./bot/twofactor.ts";
import { Identities } from "./auth/identity.ts";
import { CleartextStore, EncryptedStore, loadKey, type SecretStore } from "./auth/secrets.ts";
import { Sessions } from "./auth/sessions.ts";
import { createServer, peerAddress, type WebServer } from "./web/server.ts";
import { loginPlugin } from "./web/login.ts";
import { metricsPlugin } from "./web/metrics.ts";
import { webhookPlugin } from "./web/webhook.ts";
import { ReplayStore } from "./store/replay.ts";
import { ActionTokens } from "./store/actions.ts";
import { issueActions } from "./delivery/actions.ts";
import { actionsPlugin } from "./web/actions.ts";
import { ConfigError, describeError } from "./lib/errors.ts";
import { botCredential } from "./config/load.ts";
import { logger, setLogFormat, setLogLevel } from "./lib/log.ts";
import { adaptToLoad } from "./lib/load.ts";
import { VERSION } from "./version.ts";
import type { Cluster } from "./cluster/index.ts";

const log = logger("app");

/** How to start st2bot: the config, plus what tests and benchmarks replace. */
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

/** A running st2bot: its parts (for tests and the CLI) and `stop`. */
export interface App {
  config: Config;
  backend: ChatBackend;
  client: St2Client;
  aliases: AliasCache;
  outbox: Outbox;
  db: Database;
  web?: WebServer;
  /** Present in cluster mode (`[cluster]`): role, lease, the shared intake. */
  cluster?: Cluster;
  startedAt: Date;
  streamState(): StreamStatus;
  /** Stops every part (each even when another fails to stop) and closes the database. */
  stop(): Promise<void>;
}

/**
 * Builds and starts every part. A StackStorm or chat service that is down does not stop it
 * (both are retried in the background); a configuration the services refuse does: then every
 * part started so far is stopped again and the error (a ConfigError) is thrown.
 */
export async function startApp(opts: AppOptions): Promise<App> {
  const { config } = opts;
  // ST2BOT_LOG_LEVEL is one of the config's environment overrides (config/load.ts).
  setLogLevel(config.bot.log_level);
  setLogFormat(config.bot.log_format);
  refuseWithoutCredential(config);
  const startedAt = new Date();
  const backend = opts.backend ?? (await createBackend(config));
  const db = openStateDatabase(opts.dbPath ?? join(config.bot.data_dir, "st2bot.sqlite"));
  // What stop() undoes, in reverse, filled as each part starts (so a failed start undoes only those).
  const teardown: Array<[string, () => unknown]> = [["database", () => db.close()]];
  const stop = async () => {
    for (const [what, step] of teardown.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        log.warn(`could not stop the ${what} cleanly`, { error: describeError(err) });
      }
    }
  };
  try {
    return await startParts(opts, { backend, db, startedAt, teardown, stop });
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Without any credential nothing can work (no aliases, no executions) and nothing would fix
 * itself: refuse to start, saying what to set. A credential StackStorm rejects is different:
 * it may be fixed on StackStorm's side, so st2bot runs, re-checks, and tells chat users.
 */
function refuseWithoutCredential(config: Config): void {
  if (botCredential(config).kind !== "none") return;
  throw new ConfigError(
    "st2bot has no StackStorm credential: set stackstorm.api_auth.apikey (or ST2_API_KEY; recommended), " +
      "stackstorm.api_auth.token (ST2_AUTH_TOKEN), or stackstorm.api_auth.user.name and .password " +
      "(ST2_AUTH_USERNAME and ST2_AUTH_PASSWORD); then check with `st2bot doctor`",
  );
}

/** Opens the SQLite state; a failure names the file and what to do instead of SQLite's terse code. */
function openStateDatabase(path: string): Database {
  try {
    return openDatabase(path, { alone: true });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const what = e.code === "SQLITE_NOTADB" || e.code === "SQLITE_CORRUPT"
      ? "the file is not an st2bot database: point bot.data_dir at another directory, or move the file away"
      : e.code === "SQLITE_BUSY"
      ? "another process has it open (another st2bot with the same bot.data_dir?): stop it, or give this st2bot a data_dir of its own"
      : `check that bot.data_dir (${dirname(path)}) is a directory st2bot may create and write ` +
        "(under systemd: StateDirectory=st2bot and data_dir = \"/var/lib/st2bot\")";
    throw new ConfigError(`cannot open the database ${path} (${e.code ?? e.message ?? String(err)}): ${what}`);
  }
}

interface Started {
  backend: ChatBackend;
  db: Database;
  startedAt: Date;
  teardown: Array<[string, () => unknown]>;
  stop: () => Promise<void>;
}

async function startParts(opts: AppOptions, { backend, db, startedAt, teardown, stop }: Started): Promise<App> {
  const { config } = opts;
  const client = St2Client.fromConfig(config, { fetch: opts.fetch });
  // stackstorm.packs: the cache keeps every alias (so another team's command is recognised), the index only ours.
  const served = servedBy(config.stackstorm.packs);
  const aliases = new AliasCache({ load: () => client.listAliases(), build: (all) => new AliasIndex(all.filter(served)) });
  const key = await secretsKey(config);
  // Answer buttons: tokens issued when a message is sent, checked when a click comes back.
  const clicks = new ActionTokens(db);
  // Cluster mode: Redis holds the outbox; this process delivers only while it holds the lease.
  // Loaded on demand: a single instance never loads the Redis client.
  const cluster = config.cluster ? await (await import("./cluster/index.ts")).openCluster(config, db) : undefined;
  if (cluster) teardown.push(["cluster", () => cluster.stop()]);
  const outbox = new Outbox({
    issueActions: (requests) => issueActions(clicks, requests),
    // Login links are sealed with a key derived from the secrets key (they survive a restart).
    sealer: key ? await Sealer.derive(key) : undefined,
    db: cluster?.outboxDb ?? db,
    backend: cluster ? cluster.fence(backend) : backend,
    deadAfterMs: config.outbox.dead_after_seconds * 1000,
    maxRetryDelayMs: config.outbox.max_retry_delay_seconds * 1000,
    onDelivered: cluster ? (id) => cluster.delivered(id) : undefined,
    onDead: cluster ? (id, reason) => cluster.died(id, reason) : undefined,
  });
  const identities = await openIdentities(config, db, client, key, cluster);
  // Cluster mode: held requests live in Redis and confirmations go through the shared outbox to the leader.
  const twofactor = TwoFactor.fromConfig(config, {
    store: cluster?.confirmations,
    forward: cluster ? (uuid, e) => void cluster.intake.acceptConfirmation(e.name, e.data, uuid) : undefined,
  });
  teardown.push(["two-factor expiry timer", () => twofactor.stop()]);
  const announce: Announce = cluster
    ? (name, data, a) => void cluster.intake.acceptStream(name, data, a)
    : (_name, _data, a) => outbox.enqueueSoon(a, "stream");
  const stream = connectStream(config, client, aliases, announce, twofactor, opts.streamIdleTimeoutMs);
  // Cluster mode: dead letters are shared in Redis (any leader lists and replays them).
  const outboxControl = cluster ? cluster.outboxControl(outbox) : outbox;
  // What !status says and /metrics counts.
  const status: StatusSource = {
    version: VERSION,
    startedAt: startedAt.getTime(),
    chat: () => backend.status(),
    st2: () => {
      const h = client.health();
      return { state: h.state, detail: h.reason };
    },
    aliases: () => aliases.index.size,
    stream: () => stream.state(),
    outbox: () => outboxControl.stats(),
    cluster: cluster ? () => cluster.status() : undefined,
  };
  const bot = createBot({
    config,
    backend,
    aliases,
    identities,
    outbox: outboxControl,
    twofactor,
    send: cluster ? (m) => cluster.intake.reply(m, (a) => void outbox.enqueue(a, "bot")) : (m) => void outbox.enqueue(m, "bot"),
    status,
    clicks,
    streamIdleTimeoutMs: opts.streamIdleTimeoutMs,
  });

  let web: WebServer | undefined;
  if (config.web.enabled) {
    web = createServer({
      config: config.web,
      plugins: [
        webhookPlugin({ config: config.webhook, outbox: cluster?.intake ?? outbox.webhook, replay: cluster?.replay ?? new ReplayStore(db) }),
        loginPlugin({ identities, config, peerAddress }),
        metricsPlugin(status),
        ...(backend.handleAction ? [actionsPlugin({ handle: (body) => backend.handleAction!(body) })] : []),
      ],
    });
    await listenOrExplain(web, config);
    const server = web;
    teardown.push(["web server", () => server.stop()]);
  }

  // Registered before the outbox so that stop() ends the outbox first: sends in flight then
  // finish against a chat backend that is still connected.
  teardown.push(["chat backend", () => backend.stop()]);
  if (!cluster) outbox.start();
  teardown.push(["outbox", () => outbox.stop()]);
  // The stream and the one alias listing of the start-up run concurrently (the stream's first
  // connect does not list again while this listing is in flight or done). Aliases before chat,
  // so the first chat line already finds them; a StackStorm that is down does not stop
  // st2bot: the stream's reconnect and the timer load them later.
  const loading = aliases.refresh();
  stream.start();
  teardown.push(["stream", () => stream.stop()]);
  const loaded = await loading;
  // A refused credential was logged once, with its remedy, by the client.
  if (!loaded && client.health().state !== "failing") log.warn("StackStorm's action aliases could not be loaded yet; st2bot keeps running and retries", { reason: aliases.lastError });
  // In cluster mode only the leader connects to the chat service and delivers.
  if (!cluster) await backend.start(bot.handler);
  else
    cluster.start(async () => {
      outbox.start();
      await backend.start(bot.handler);
      return { enqueue: (a, source) => outbox.enqueue(a, source), stats: () => outbox.stats(), confirm: (uuid) => twofactor.claim(uuid).then((run) => void run?.()) };
    });
  aliases.startTimer(config.stackstorm.timer_update * 1000);
  teardown.push(["alias timer", () => aliases.stop()]);
  client.startHealthCheck(config.stackstorm.timer_update * 1000);
  teardown.push(["StackStorm health check", () => client.stopHealthCheck()]);
  // Last in, so first out: live-output follows end while the outbox and the backend still run.
  teardown.push(["live output", () => bot.stop()]);
  log.info("st2bot ready", { version: VERSION, backend: backend.name, aliases: aliases.index.size, ms: Date.now() - startedAt.getTime() });
  // The JIT's normal policy once there is work (the compiled binary starts with it held back:
  // scripts/build.ts), and the garbage of a busy spell freed once it has drained (lib/load.ts).
  const load = adaptToLoad({ afterStart: true });
  teardown.push(["load watcher", () => load.stop()]);

  return {
    config,
    backend,
    client,
    aliases,
    outbox,
    db,
    web,
    cluster,
    startedAt,
    streamState: () => stream.state(),
    stop,
  };
}

/**
 * The StackStorm stream: announcements into the outbox (stored before anything else), alias
 * changes into the cache, pending inquiries into chat, two-factor confirmations to the held
 * alias executions; a re-sync of the aliases on every connect.
 */
function connectStream(config: Config, client: St2Client, aliases: AliasCache, announce: Announce, twofactor: TwoFactor, idleTimeoutMs?: number) {
  // An inquiry's announcement is identified by its own content (the same event gives the same one).
  const inquiries = wireInquiries({ config, enqueue: (a) => announce("inquiry", a, a), defaultChannel: config.stackstorm.inquiry_channel });
  let connectedOnce = false;
  return new St2Stream({
    client,
    routeKey: config.stackstorm.route_key,
    idleTimeoutMs,
    extraEvents: [...inquiries.events, ...twofactor.events],
    onEvent: (event) => {
      if (inquiries.onEvent(event) || twofactor.onEvent(event)) return;
      if (event.name.startsWith("st2.actionalias__")) {
        aliases.applyEvent(event.name, event.data);
        return;
      }
      if (!event.name.startsWith("st2.announcement__")) return;
      const parsed = parseStreamAnnouncement(event.data);
      if (!parsed.ok) log.warn("skipped a malformed announcement", { event: event.name, error: parsed.error });
      else announce(event.name, event.data, parsed.value);
    },
    // A reconnect re-syncs (events of the gap are gone). The first connect does not when the
    // start-up listing is in flight (events from now on are replayed onto its answer) or done:
    // what changed between that answer and this connect (a few ms at start) is caught by the
    // timer's next refresh.
    onConnect: () => {
      const first = !connectedOnce;
      connectedOnce = true;
      if (!first || !(aliases.refreshing || aliases.loaded)) void aliases.refresh();
    },
  });
}

/** Where a stream announcement goes: the outbox, or (cluster mode) the shared intake, which needs the event to de-duplicate. */
type Announce = (eventName: string, eventData: unknown, a: Announcement) => void;

/** Binds the web server; a busy port names the setting that moves it. */
async function listenOrExplain(web: WebServer, config: Config): Promise<void> {
  try {
    await web.listen();
  } catch (err) {
    if ((err as { code?: string }).code !== "EADDRINUSE") throw err;
    throw new ConfigError(`port ${config.web.port} on ${config.web.host} is in use: set web.port, or web.enabled = false`);
  }
}

/**
 * The encrypted store's key as `run` reads it (`doctor` calls this too, so both judge a key
 * alike); rejects with a ConfigError saying what is wrong with it.
 */
export function loadSecretsKey(config: Config): Promise<CryptoKey> {
  return loadKey({ keyEnv: config.secrets.key_env, keyFile: config.secrets.key_file });
}

/** The secrets store and sessions; the encrypted store needs its key only under client-side auth. */
async function openIdentities(config: Config, db: Database, client: St2Client, key: CryptoKey | undefined, cluster?: Cluster): Promise<Identities> {
  const store: SecretStore = key ? await (cluster ? cluster.secretStore(key) : EncryptedStore.open(db, key)) : new CleartextStore();
  const ttlMs = config.stackstorm.session_ttl * 1000;
  return new Identities(config, client, store, cluster ? cluster.sessions(ttlMs) : new Sessions(db, ttlMs));
}

/** The secrets key, when the encrypted store needs one (client-side auth). */
async function secretsKey(config: Config): Promise<CryptoKey | undefined> {
  if (!config.stackstorm.rbac_auth.clientside || config.stackstorm.secrets_store !== "encrypted") return undefined;
  return loadSecretsKey(config);
}
