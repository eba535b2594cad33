/**
 * The bot: every command, the ACL and the router, assembled from the parts it needs. What it
 * says goes out through `send` (the durable outbox, wired in by src/app.ts), so bot/ never
 * imports delivery/.
 */
import type { Config } from "../config/schema.ts";
import type { ChatBackend, Message, MessageHandler, Outgoing, Target } from "../chat/types.ts";
import type { AliasCache } from "../st2/aliascache.ts";
import { AliasIndex } from "../st2/aliases/index.ts";
import type { ActionAlias } from "../st2/aliases/types.ts";
import { servedBy } from "../st2/packs.ts";
import type { Identities } from "../auth/identity.ts";
import { CommandError } from "../lib/errors.ts";
import { DONE } from "../lib/timeout.ts";
import { isAdmin } from "./acl.ts";
import { createAcl } from "./middleware/acl.ts";
import { canonicalTyped, createRouter } from "./router.ts";
import { builtinCommands, unknownCommandReply } from "./commands/builtins.ts";
import type { StatusSource } from "./status.ts";
import { st2HelpCommand, st2RunCommand, type St2CommandDeps } from "./commands/st2.ts";
import { ANONYMOUS, chatUserKey, requireChatUserKey, sessionCommands } from "./commands/sessions.ts";
import { inquiryCommands } from "./inquiries/commands.ts";
import { executionCommands } from "./executions/commands.ts";
import { aliasOfExecution } from "./executions/alias.ts";
import { outboxCommands, type OutboxControl } from "./commands/outbox.ts";
import { reloadCommand } from "./commands/reload.ts";
import type { BotMessage, Command, Context } from "./types.ts";
import type { St2Client } from "../st2/client.ts";
import { Tails } from "./tail/tails.ts";
import { followAfterAck, followsLive, tailCommand } from "./tail/command.ts";
import type { TwoFactor } from "./twofactor.ts";
import { withClicks, type ClickTokens } from "./clicks.ts";
import { loginHint, pluginPrefix } from "./names.ts";


/** Everything the bot is built from; app.ts wires the real parts, tests fakes. */
export interface BotDeps {
  config: Config;
  backend: ChatBackend;
  aliases: AliasCache;
  /** Whose StackStorm client a chat user gets (their own under client-side auth). */
  identities: Identities;
  outbox: OutboxControl;
  /** Stores a message durably for delivery; throws when it could not be stored. */
  send(message: BotMessage): void;
  /** Live figures for `!status`. */
  status: StatusSource;
  /** Held two-factor confirmations (fed by the stream); needed for `stackstorm.twofactor_action`. */
  twofactor?: TwoFactor;
  /** Callback tokens of answer buttons; absent, clicks are ignored (nothing issues tokens then). */
  clicks?: ClickTokens;
  /** The stream idle timeout of live-output follows (tests shorten it). */
  streamIdleTimeoutMs?: number;
}

/**
 * Builds the commands and returns the handler the chat backend feeds messages to (see
 * `createRouter`), with the commands for inspection. Every reply goes through `deps.send`.
 */
export function createBot(deps: BotDeps): { handler: MessageHandler; commands: readonly Command[]; stop(): Promise<void> } {
  const { config, backend, identities } = deps;
  const tails = new Tails({ backend, intervalMs: config.stackstorm.live_output_interval * 1000, streamIdleTimeoutMs: deps.streamIdleTimeoutMs });
  const runName = pluginPrefix(config);
  const acl = createAcl({
    rules: config.access_controls,
    defaults: config.access_controls_default,
    admins: config.bot.admins,
    hideRestrictedAccess: config.bot.hide_restricted_access,
    runsAliases: (cmd) => cmd.plugin === "St2" && cmd.name === runName,
  });
  const served = servedBy(config.stackstorm.packs);
  const disabled = disabledIndex(deps.aliases, served);
  const elsewhere = config.stackstorm.packs ? otherPacksIndex(deps.aliases, served) : undefined;
  const aliasView = {
    get index() {
      return deps.aliases.index;
    },
    get disabled() {
      return disabled();
    },
    get loaded() {
      return deps.aliases.loaded;
    },
    get refused() {
      return deps.status.st2().state === "failing";
    },
  };
  let botClient: { client: St2Client; personal: false } | undefined;
  const personalClient = async (ctx: Context) => {
    const found = await identities.clientFor(chatUserKey(ctx.chat.name, ctx.msg));
    if (!found.ok) throw new CommandError(found.reason === "anonymous" ? ANONYMOUS : `You have not linked your StackStorm identity yet: ${loginHint(config)}.`);
    const personal = identities.clientside;
    const as = { client: found.client, personal };
    if (!personal) botClient = { client: found.client, personal };
    return as;
  };
  const st2Deps: St2CommandDeps = {
    config,
    // One view for every command, read when asked: `disabled` and `refused` only when a command cannot run.
    aliases: () => aliasView,
    // Under standalone auth everyone acts as the bot, whose client never changes: once known,
    // it is handed out in place, without a turn of waiting per command.
    clientFor: (ctx) => (!identities.clientside && botClient) || personalClient(ctx),
    expired: async (ctx) => {
      await identities.forget(requireChatUserKey(ctx.chat.name, ctx.msg));
      return `StackStorm no longer accepts your login (it expired or was revoked), so I forgot it. To log in again, ${loginHint(config)}.`;
    },
    authorizeAlias: acl.authorizeAliasNow,
    // Beyond Errbot: !st2help always lists only the aliases the ACL lets this user run.
    // The same canonical text the router builds: no plugin prefix when it is empty.
    aliasVisible: (ctx, ref, display) => acl.mayListAlias(ctx, runCommand, ref, canonicalTyped(config.stackstorm.plugin_prefix, display)),
    twofactor: deps.twofactor,
    servedElsewhere: elsewhere && ((text) => elsewhere().match(text).kind !== "none"),
    followLive: async (ctx, as, alias, execution) => {
      if (followsLive(config, alias)) await followAfterAck(tails, ctx, as.client, execution);
    },
  };
  const manage = executionCommands(
    {
      ...st2Deps,
      aliasOf: (ex) => aliasOfExecution(ex, deps.aliases.index.aliases),
      // Judged as running the alias itself (its `alias:` rules), whatever subcommand asks.
      mayRunAlias: (ctx, ref) => acl.authorizeAlias(asRunning(ctx, runCommand), ref),
    },
    runName,
  );
  const tail = tailCommand(
    {
      ...st2Deps,
      tails,
      aliasOf: (ex) => aliasOfExecution(ex, deps.aliases.index.aliases),
      // Judged as running the alias itself, as the execution commands are.
      mayRunAlias: (ctx, ref) => acl.authorizeAlias(asRunning(ctx, runCommand), ref),
    },
    runName,
  );
  const subcommands = [...manage, tail];
  const runCommand: Command = { ...st2RunCommand(st2Deps), subcommands };
  // With an empty plugin_prefix aliases are typed bare, so `st2 <subcommand>` gets a command of its own.
  const manageCommand: Command[] = config.stackstorm.plugin_prefix ? [] : [managementCommand(config.bot.prefix, runName, subcommands)];
  const commands: Command[] = [
    runCommand,
    ...manageCommand,
    st2HelpCommand(st2Deps),
    ...inquiryCommands(st2Deps),
    ...sessionCommands(config, identities),
    ...outboxCommands(config, deps.outbox),
    reloadCommand(config, deps.aliases),
  ];
  commands.push(
    ...builtinCommands({
      prefix: config.bot.prefix,
      commands: () => [...commands, ...subcommands],
      listFilter: config.bot.hide_restricted_commands ? acl.mayList : undefined,
      status: deps.status,
    }),
  );
  // Everything the bot says itself may quote what a user typed: plain text on this service, so
  // a typed `<!channel>` or `@all` echoed back pings no one (StackStorm's results are not bot text).
  const plain = (out: Outgoing): Outgoing => (backend.escape ? { ...out, text: backend.escape(out.text) } : out);
  const handler = createRouter(backend, {
    prefix: config.bot.prefix,
    botName: config.bot.name,
    commands: config.stackstorm.plugin_prefix ? commands : commands.filter((c) => c !== runCommand),
    fallback: runCommand,
    fallbackAfterPrefix: !config.stackstorm.plugin_prefix,
    middleware: [acl.middleware],
    isAdmin: (msg) => isAdmin(msg.from.aclId, config.bot.admins, msg.from.aclMask),
    reply: (msg, out) => reply(msg, out),
    unknown: (ctx, typed) => ctx.reply(unknownCommandReply(typed, commands.map((c) => c.name), config.bot.prefix)),
  });
  // A request confirmed after it was held elsewhere (another instance, before a failover) goes through the router again.
  deps.twofactor?.resumeWith(async (msg) => handler(msg));
  // Under the source_channel StackStorm sends the result to: one ordered queue per place. A
  // secret (a login link, asked for in a direct message) goes to the reply target, sealed.
  // Stored at once (`send` is synchronous): the settled promise is shared, a failure to store rejects.
  const reply = (msg: Message, out: Outgoing): Promise<void> => {
    try {
      deps.send(out.secret ? sealedReply(backend.replyTarget(msg), plain(out)) : { message: plain(out).text, channel: backend.sourceChannel(msg), extra: out.extra, context: msg.thread ? { thread: msg.thread } : undefined });
      return DONE;
    } catch (err) {
      return Promise.reject(err);
    }
  };
  if (!deps.clicks) return { handler: (msg) => (msg.action ? undefined : handler(msg)), commands, stop: () => tails.stop() };
  // Typed text goes to the router directly (as `withClicks` would pass it on): no wrapper per message.
  const clicked = withClicks(handler, { tokens: deps.clicks, reply: async (msg, text) => reply(msg, { text }) });
  return { handler: (msg) => (msg.action ? clicked(msg) : handler(msg)), commands, stop: () => tails.stop() };
}

/**
 * A copy of `ctx` that runs `runCommand` (the name and definition replaced, the arguments kept),
 * so the ACL judges it afresh. A copy by prototype, not a spread: the context's replies are
 * methods it shares with every context; notes made on the copy stay on the copy.
 */
function asRunning(ctx: Context, runCommand: Command): Context {
  const copy = Object.create(ctx) as Context;
  copy.commandDef = runCommand;
  copy.command = { ...ctx.command!, name: runCommand.name };
  return copy;
}

/** A secret reply as the outbox keeps it: to the user directly, or to a room (and thread). */
function sealedReply(target: Target, out: Outgoing): BotMessage {
  return target.kind === "room"
    ? { message: out.text, channel: target.id, extra: out.extra, context: target.thread ? { thread: target.thread } : undefined, secret: true }
    : { message: out.text, user: target.id, whisper: true, extra: out.extra, secret: true };
}

/** `st2` when plugin_prefix is empty: only the subcommands, anything else gets their usage. */
function managementCommand(prefix: string, name: string, subcommands: Command[]): Command {
  const usage = subcommands.map((c) => `  ${prefix}${c.usage ?? c.name}`).join("\n");
  return {
    plugin: "St2",
    name,
    help: "Manage StackStorm executions",
    hidden: true,
    subcommands,
    run: async () => {
      throw new CommandError(`Usage:\n${usage}`);
    },
  };
}

/** An index of the disabled aliases this bot serves (as if enabled), rebuilt only when the set changes. */
function disabledIndex(cache: AliasCache, served: (a: ActionAlias) => boolean): () => AliasIndex {
  return cachedIndex(cache, (all) => all.filter((a) => a.enabled === false && served(a)).map((a) => ({ ...a, enabled: true })));
}

/**
 * An index of the aliases of the packs this bot does not serve, disabled ones included (their
 * bot says they are disabled), built on first use.
 */
function otherPacksIndex(cache: AliasCache, served: (a: ActionAlias) => boolean): () => AliasIndex {
  return cachedIndex(cache, (all) => all.filter((a) => !served(a)).map((a) => (a.enabled === false ? { ...a, enabled: true } : a)));
}

function cachedIndex(cache: AliasCache, pick: (all: readonly ActionAlias[]) => ActionAlias[]): () => AliasIndex {
  let source: unknown;
  let index = new AliasIndex([]);
  return () => {
    if (cache.aliases !== source) {
      source = cache.aliases;
      index = new AliasIndex(pick(cache.aliases));
    }
    return index;
  };
}
