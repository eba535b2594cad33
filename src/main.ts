#!/usr/bin/env bun
/**
 * The st2bot command line: run, demo, doctor, alias, rule, init, secrets, version.
 * Each subcommand is a small function; the heavy modules load only when their command runs,
 * so `st2bot --version` and `st2bot alias ...` start instantly.
 */
import { existsSync, writeFileSync } from "node:fs";
import { parseCommandArgs, UsageError, USAGE, wantsHelp } from "./cli/args.ts";
import { ConfigError, describeError, St2botError } from "./lib/errors.ts";
import { VERSION } from "./version.ts";

const HELP = `st2bot ${VERSION} — StackStorm ChatOps in one executable

Usage:
  st2bot demo                      a StackStorm emulator + the terminal chat: try it in seconds
  st2bot run [-c st2bot.toml]      run the bot (default config: ./st2bot.toml if present)
  st2bot doctor [-c st2bot.toml]   check the configuration, StackStorm, credentials and rules
  st2bot init [st2bot.toml]        write a commented configuration template
  st2bot rule [-c st2bot.toml]     print the StackStorm notify rule for this bot's route
  st2bot alias parse --format F --command C
  st2bot alias match --aliases PATH... [--strict] -- COMMAND
                                   test alias formats offline, no StackStorm needed
  st2bot secrets rotate-key [-c st2bot.toml] [--new-key-file FILE]
                                   re-encrypt stored user credentials with a new key
                                   (or the new key in $ST2BOT_SECRETS_KEY_NEW)
  st2bot version | --version
  st2bot help | --help
  st2bot COMMAND --help            the usage of one command (or: st2bot help COMMAND)

In chat: !st2help lists commands, !st2 <command> runs one, !help lists everything.
`;

type Io = { stdout: (s: string) => void; stderr: (s: string) => void };
const io: Io = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) };

function configPath(values: { config?: string }): string | undefined {
  if (values.config) return values.config;
  return existsSync("st2bot.toml") ? "st2bot.toml" : undefined;
}

const CONFIG_OPTION = { config: { type: "string", short: "c" } } as const;

async function loadConfigFrom(command: string, argv: string[]) {
  const { values } = parseCommandArgs(command, argv, CONFIG_OPTION);
  return loadConfigAt(configPath(values));
}

/** The config file with every chat backend's table known (each backend declares its own). */
async function loadConfigAt(path: string | undefined) {
  const { loadConfig } = await import("./config/load.ts");
  const { BACKEND_SECTIONS } = await import("./chat/registry.ts");
  return loadConfig(path, process.env, BACKEND_SECTIONS);
}

const commands: Record<string, (argv: string[]) => Promise<number>> = {
  async run(argv) {
    const config = await loadConfigFrom("run", argv);
    const { runUntilStopped } = await import("./cli/run.ts");
    return runUntilStopped(config);
  },
  async demo(argv) {
    parseCommandArgs("demo", argv, {});
    const { runDemo } = await import("./cli/demo.ts");
    return runDemo(argv);
  },
  async doctor(argv) {
    const config = await loadConfigFrom("doctor", argv);
    const { runDoctor } = await import("./cli/doctor.ts");
    return runDoctor(config, io);
  },
  async init(argv) {
    const file = parseCommandArgs("init", argv, {}, 1).positionals[0] ?? "st2bot.toml";
    if (existsSync(file)) {
      io.stderr(`st2bot init: ${file} already exists; not overwriting it\n`);
      return 1;
    }
    const { configTemplate } = await import("./config/template.ts");
    const { backendTemplates } = await import("./chat/registry.ts");
    writeFileSync(file, configTemplate(backendTemplates()), { mode: 0o600 });
    io.stdout(`wrote ${file}: edit [stackstorm] and your chat backend, then run: st2bot doctor -c ${file}\n`);
    return 0;
  },
  async rule(argv) {
    const config = await loadConfigFrom("rule", argv);
    const { notifyRule, stockRuleFor } = await import("./cli/rule.ts");
    const route = config.stackstorm.route_key;
    io.stdout(notifyRule(route));
    const stock = stockRuleFor(route);
    if (stock) io.stderr(`note: StackStorm's chatops pack already ships ${stock} for route "${route}"; if it is enabled (st2 rule get ${stock}) you need no other rule: with two, every result is posted twice\n`);
    return 0;
  },
  async alias(argv) {
    const { aliasCli } = await import("./st2/aliases/cli.ts");
    return aliasCli(argv, io);
  },
  async secrets(argv) {
    if (argv[0] !== "rotate-key") throw new UsageError(argv[0] === undefined ? "which one? rotate-key is the only secrets command" : `unknown secrets command "${argv[0]}"`, "secrets");
    const { values } = parseCommandArgs("secrets", argv.slice(1), { ...CONFIG_OPTION, "new-key-file": { type: "string" } });
    const config = await loadConfigAt(configPath(values));
    const { rotateKeyCli } = await import("./cli/secrets.ts");
    return rotateKeyCli(config, io, { newKeyFile: values["new-key-file"] });
  },
  async version(argv) {
    parseCommandArgs("version", argv, {});
    io.stdout(`st2bot ${VERSION}\n`);
    return 0;
  },
  async help(argv) {
    // `st2bot help run` = `st2bot run --help`.
    const topic = argv[0];
    if (topic === "alias") return (await import("./st2/aliases/cli.ts")).aliasCli(["--help"], io);
    io.stdout(topic !== undefined && Object.hasOwn(USAGE, topic) ? USAGE[topic]! : HELP);
    return 0;
  },
};

/**
 * Runs one subcommand and resolves with the process exit code: 0 done, 1 failed (the reason
 * printed to stderr in plain words, never a stack trace), 2 an unknown command or bad usage
 * (with that command's usage). `st2bot COMMAND -h|--help` prints the usage and exits 0.
 */
export async function main(argv: string[]): Promise<number> {
  const [first = "help", ...rest] = argv;
  const name = first === "--version" || first === "-v" ? "version" : first === "--help" || first === "-h" ? "help" : first;
  const command = commands[name];
  if (!command) {
    io.stderr(`st2bot: unknown command "${first}"\n\n${HELP}`);
    return 2;
  }
  // The alias tool has its own help per subcommand (alias parse --help, alias match --help).
  if (name !== "alias" && name !== "help" && wantsHelp(rest)) {
    io.stdout(USAGE[name] ?? HELP);
    return 0;
  }
  try {
    return await command(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`st2bot ${err.command}: ${err.message}\n\n${USAGE[err.command] ?? HELP}`);
      return 2;
    }
    if (err instanceof ConfigError) io.stderr(`st2bot: configuration error:\n${err.message}\n`);
    else if (err instanceof St2botError) io.stderr(`st2bot: ${err.userMessage}\n`);
    else io.stderr(`st2bot: ${describeError(err)}\n`);
    return 1;
  }
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
