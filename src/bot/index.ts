/**
 * The bot: every command, the ACL and the router, assembled from the parts it needs. What it
 * says goes out through `send` (the durable outbox, wired in by src/app.ts), so bot/ never
 * imports delivery/.
 */
import type { Config } from "../config/schema.ts";
import type { ChatBackend, MessageHandler, Outgoing, Target } from "../chat/types.ts";
import type { AliasCache } from "../st2/aliascache.ts";
import { AliasIndex } from "../st2/aliases/index.ts";
import type { Identities } from "../auth/identity.ts";
import { CommandError } from "../lib/errors.ts";
import { isAdmin } from "./acl.ts";
import { createAcl } from "./middleware/acl.ts";
import { createRouter } from "./router.ts";
import { builtinCommands, unknownCommandReply, type StatusSource } from "./commands/builtins.ts";
import { st2HelpCommand, st2RunCommand, type St2CommandDeps } from "./commands/st2.ts";
import { chatUserKey, loginHint, sessionCommands } from "./commands/sessions.ts";
import { inquiryCommands } from "./commands/inquiries.ts";
import { outboxCommands, type OutboxControl } from "./commands/outbox.ts";
import { reloadCommand } from "./commands/reload.ts";
import type { BotMessage, Command } from "./types.ts";
import type { TwoFactor } from "./twofactor.ts";


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
}

/** Turns a target into the announcement shape the outbox keeps. */
export function addressed(target: Target, out: Outgoing): BotMessage {
  return target.kind === "room"
    ? { message: out.text, channel: target.id, extra: out.extra, context: target.thread ? { thread: target.thread } : undefined }
    : { message: out.text, user: target.id, whisper: true, extra: out.extra };
}

/**
 * Builds the commands and returns the handler the chat backend feeds messages to (see
 * `createRouter`), with the commands for inspection. Every reply goes through `deps.send`.
 */
export function createBot(deps: BotDeps): { handler: MessageHandler; commands: readonly Command[] } {
  const { config, backend, identities } = deps;
  const runName = config.stackstorm.plugin_prefix || "st2";
  const acl = createAcl({
    rules: config.access_controls,
    defaults: config.access_controls_default,
    admins: config.bot.admins,
    hideRestrictedAccess: config.bot.hide_restricted_access,
    runsAliases: (cmd) => cmd.plugin === "St2" && cmd.name === runName,
  });
  const disabled = disabledIndex(deps.aliases);
  const st2Deps: St2CommandDeps = {
    config,
    aliases: () => ({ index: deps.aliases.index, disabled: disabled(), loaded: deps.aliases.loaded }),
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
    twofactor: deps.twofactor,
  };
  const runCommand = st2RunCommand(st2Deps);
  const commands: Command[] = [
    runCommand,
    st2HelpCommand(st2Deps),
    ...inquiryCommands(st2Deps),
    ...sessionCommands(config, identities),
    ...outboxCommands(config, deps.outbox),
    reloadCommand(config, deps.aliases),
  ];
  commands.push(
    ...builtinCommands({
      prefix: config.bot.prefix,
      commands: () => commands,
      listFilter: config.bot.hide_restricted_commands ? acl.mayList : undefined,
      status: deps.status,
    }),
  );
  const handler = createRouter(backend, {
    prefix: config.bot.prefix,
    botName: config.bot.name,
    commands: config.stackstorm.plugin_prefix ? commands : commands.filter((c) => c !== runCommand),
    fallback: runCommand,
    fallbackAfterPrefix: !config.stackstorm.plugin_prefix,
    middleware: [acl.middleware],
    isAdmin: (msg) => isAdmin(msg.from.aclId, config.bot.admins, msg.from.aclMask),
    deliver: async (target, out) => deps.send(addressed(target, out)),
    // Under the source_channel StackStorm sends the result to: one ordered queue per place.
    reply: async (msg, out) =>
      deps.send({ message: out.text, channel: backend.sourceChannel(msg), extra: out.extra, context: msg.thread ? { thread: msg.thread } : undefined }),
    unknown: (ctx, typed) => ctx.reply(unknownCommandReply(typed, commands.map((c) => c.name), config.bot.prefix)),
  });
  return { handler, commands };
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
