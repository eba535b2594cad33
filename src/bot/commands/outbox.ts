/**
 * Admin commands over the outbox: see which messages could not be delivered, and send them
 * again once the cause is fixed. Nothing is ever dropped silently; this is where it shows.
 */
import type { Config } from "../../config/schema.ts";
import { CommandError } from "../../lib/errors.ts";
import { redact } from "../../lib/log.ts";
import type { Command } from "../types.ts";
import { pluginPrefix } from "../names.ts";
import type { OutboxCounts } from "../status.ts";

/** What the commands need of the outbox (kept to an interface: bot/ does not import delivery/). */
export interface OutboxControl {
  stats(): OutboxCounts;
  listDead(limit: number): { id: number; targetKey: string; createdAt: number; attempts: number; lastError: string | null; announcement?: { message: string } }[];
  replay(id: number | "all"): number;
}

const preview = (text: string | undefined) => {
  const line = (text ?? "").replace(/\s+/g, " ").trim();
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
};

/**
 * `<pp>outbox` (the dead messages, with the send error of each, redacted since it goes to chat)
 * and `<pp>replay <id|all>`; both admin-only.
 */
export function outboxCommands(config: Config, outbox: OutboxControl): Command[] {
  const pp = pluginPrefix(config);
  return [
    {
      plugin: "St2",
      name: `${pp}outbox`,
      adminOnly: true,
      help: "Messages that could not be delivered (admins)",
      run: async (ctx) => {
        const s = outbox.stats();
        const dead = outbox.listDead(20);
        const head = `Outbox: ${s.pending} pending, ${s.dead} undeliverable, ${s.delivered} delivered since start, ${s.failedAttempts} failed attempts.`;
        if (dead.length === 0) return ctx.reply(head);
        const lines = dead.map((d) => `  #${d.id} to ${d.targetKey} (${new Date(d.createdAt).toISOString()}, ${d.attempts} attempts): ${d.lastError ? redact(d.lastError) : "unknown error"} — "${preview(d.announcement?.message)}"`);
        await ctx.reply(`${head}\n${lines.join("\n")}${s.dead > dead.length ? `\n  ... and ${s.dead - dead.length} more` : ""}\nSend again with ${config.bot.prefix}${pp}replay <id> or ${config.bot.prefix}${pp}replay all`);
      },
    },
    {
      plugin: "St2",
      name: `${pp}replay`,
      adminOnly: true,
      usage: `${pp}replay <id|all>`,
      help: "Send undeliverable messages again (admins)",
      run: async (ctx) => {
        const arg = (ctx.command?.args ?? "").replace(/^#/, "");
        const id = arg === "all" ? "all" : Number(arg);
        if (id !== "all" && !(Number.isInteger(id) && id > 0)) throw new CommandError(`Usage: ${config.bot.prefix}${pp}replay <id|all>`);
        const n = outbox.replay(id);
        await ctx.reply(n ? `Sending ${n} message(s) again.` : `No undeliverable message ${id === "all" ? "" : `#${id} `}to send again.`);
      },
    },
  ];
}
