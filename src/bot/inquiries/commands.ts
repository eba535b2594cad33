/**
 * Answering StackStorm inquiries from chat: `st2inquiries` lists the pending ones and
 * `st2respond <id> <answer>` answers one as the chat user's own StackStorm identity (the
 * inquiry's `users`/`roles` are checked against that identity, so under client-side auth each
 * person answers as themselves). Answers are checked against the inquiry's schema here first,
 * so a typo gets a message naming the property instead of a round trip to StackStorm.
 */
import type { St2Client } from "../../st2/client.ts";
import { St2ApiError } from "../../st2/http.ts";
import type { Inquiry } from "../../st2/schemas.ts";
import { CommandError } from "../../lib/errors.ts";
import type { Command, Context } from "../types.ts";
import { callStackStorm, type St2CommandDeps } from "../commands/st2.ts";
import { formatResponse, parseAnswer } from "./answer.ts";
import { answerExample, describeField, describeInquiry, inquiryFields, listCommandName, respondCommandName } from "./schema.ts";

/** What the inquiry commands need: the same as the `st2` command's, minus the alias parts. */
export type InquiryCommandDeps = Pick<St2CommandDeps, "config" | "clientFor" | "expired">;

type As = { client: St2Client; personal: boolean };

/** The shortest id prefix accepted: short prefixes collide too easily to be safe to act on. */
export const MIN_PREFIX = 6;
const FULL_ID = /^[0-9a-f]{24}$/i;

/** `st2inquiries` and `st2respond` (names follow `plugin_prefix`, as `st2help` does). */
export function inquiryCommands(deps: InquiryCommandDeps): Command[] {
  return [listCommand(deps), respondCommand(deps)];
}

function listCommand(deps: InquiryCommandDeps): Command {
  const name = listCommandName(deps.config);
  return {
    plugin: "St2",
    name,
    help: "List the StackStorm inquiries waiting for an answer",
    usage: name,
    run: async (ctx) => {
      const as = await deps.clientFor(ctx);
      const pending = await callInquiries(ctx, as, deps, () => as.client.listInquiries());
      await ctx.reply(renderInquiryList(deps, pending, ctx.backend.maxMessageLength));
    },
  };
}

/** The list reply; stops early (saying how many more) rather than exceed the message size. */
export function renderInquiryList(deps: Pick<InquiryCommandDeps, "config">, pending: Inquiry[], maxLength: number): string {
  if (pending.length === 0) return "No StackStorm inquiries are waiting for an answer.";
  const budget = maxLength - 200;
  const blocks: string[] = [];
  let size = 0;
  for (const inquiry of pending) {
    const fields = inquiryFields(inquiry.schema);
    const block = [`Inquiry ${inquiry.id}:`, ...describeInquiry(inquiry), `  Answer: ${answerExample(deps.config, inquiry.id, fields)}`].join("\n");
    if (blocks.length > 0 && size + block.length + 2 > budget) break;
    blocks.push(block);
    size += block.length + 2;
  }
  const head = `${pending.length} StackStorm ${pending.length === 1 ? "inquiry is" : "inquiries are"} waiting for an answer:`;
  const rest = pending.length - blocks.length;
  const tail = rest > 0 ? `\n…and ${rest} more that did not fit in one message.` : "";
  return `${head}\n\n${blocks.join("\n\n")}${tail}`;
}

function respondCommand(deps: InquiryCommandDeps): Command {
  const name = respondCommandName(deps.config);
  const usage = `${name} <inquiry id> <property>=<value> ...`;
  return {
    plugin: "St2",
    name,
    help: "Answer a StackStorm inquiry (key=value pairs, a JSON object, or a bare value)",
    usage,
    run: async (ctx) => {
      const match = /^(\S+)\s*([\s\S]*)$/.exec(ctx.command?.args ?? "");
      if (!match) throw new CommandError(`Tell me which inquiry and your answer, e.g. ${deps.config.bot.prefix}${name} 5f2c3a approved=yes. ${listHint(deps)}`);
      const idText = match[1]!;
      const answerText = match[2] ?? "";
      const as = await deps.clientFor(ctx);
      const inquiry = await findInquiry(ctx, as, deps, idText);
      const parsed = parseAnswer(answerText, inquiry.schema);
      if (!parsed.ok) throw new CommandError(`${parsed.error}\n${answerHelp(deps, inquiry)}`);
      const done = await callInquiries(ctx, as, deps, () => as.client.respondInquiry(inquiry.id, parsed.response), inquiry);
      await ctx.reply(`Thanks, your answer to inquiry ${inquiry.id} was accepted (${formatResponse(done.response)}); the workflow can continue.`);
    },
  };
}

function listHint(deps: InquiryCommandDeps): string {
  return `Type ${deps.config.bot.prefix}${listCommandName(deps.config)} to see the pending inquiries.`;
}

function answerHelp(deps: InquiryCommandDeps, inquiry: Inquiry): string {
  const fields = inquiryFields(inquiry.schema);
  if (fields.length === 0) return `This inquiry takes any JSON object, e.g. ${answerExample(deps.config, inquiry.id, fields)}`;
  const asks = fields.map((f) => `  ${describeField(f)}`).join("\n");
  return `This inquiry asks for:\n${asks}\nFor example: ${answerExample(deps.config, inquiry.id, fields)}`;
}

/** `approved=yes, reason="looks good"` */
/**
 * The inquiry an id or id prefix names. A full id is fetched directly, so StackStorm itself says
 * when it was already answered or timed out; a prefix (at least MIN_PREFIX characters) must
 * match exactly one pending inquiry.
 */
async function findInquiry(ctx: Context, as: As, deps: InquiryCommandDeps, idText: string): Promise<Inquiry> {
  if (FULL_ID.test(idText)) return callInquiries(ctx, as, deps, () => as.client.getInquiry(idText));
  if (idText.length < MIN_PREFIX) {
    throw new CommandError(`"${idText}" is too short to name an inquiry: give at least ${MIN_PREFIX} characters of its id. ${listHint(deps)}`);
  }
  const pending = await callInquiries(ctx, as, deps, () => as.client.listInquiries());
  const hits = pending.filter((i) => i.id.toLowerCase().startsWith(idText.toLowerCase()));
  if (hits.length === 1) return hits[0]!;
  if (hits.length === 0) {
    throw new CommandError(`No pending inquiry has an id starting with "${idText}" (it may have been answered or timed out already). ${listHint(deps)}`);
  }
  throw new CommandError(`"${idText}" starts the ids of ${hits.length} pending inquiries (${hits.map((i) => i.id).join(", ")}); give more of the id.`);
}

/**
 * A StackStorm call about an inquiry, with its refusals in plain words: 400 already answered /
 * timed out / schema, 403 not one of the permitted responders, 404 unknown. Everything else
 * (unreachable, expired login, 5xx) goes through `callStackStorm` like every st2 command.
 */
async function callInquiries<T>(ctx: Context, as: As, deps: InquiryCommandDeps, fn: () => Promise<T>, inquiry?: Inquiry): Promise<T> {
  return callStackStorm(ctx, as, deps, async () => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof St2ApiError) {
        const plain = inquiryRefusal(err.status, err.faultstring, inquiry);
        if (plain) throw new CommandError(plain);
      }
      throw err;
    }
  });
}

/** StackStorm's inquiry faults in plain language, quoting its own reason; undefined for other statuses. */
export function inquiryRefusal(status: number, fault: string, inquiry?: Pick<Inquiry, "users" | "roles">): string | undefined {
  const says = `(StackStorm says: ${fault})`;
  if (status === 403) {
    const who = inquiry && (inquiry.users.length || inquiry.roles.length) ? ` Only ${responders(inquiry)} may answer it.` : "";
    return `You are not allowed to answer this inquiry as your StackStorm user.${who} ${says}`;
  }
  if (status === 404) return `StackStorm has no inquiry with that id. ${says}`;
  if (status !== 400) return undefined;
  if (/already been responded/i.test(fault)) return `This inquiry has already been answered, so it takes no more answers. ${says}`;
  if (/timed out/i.test(fault)) return `This inquiry timed out, so it can no longer be answered. ${says}`;
  if (/not an inquiry/i.test(fault)) return `That id belongs to an execution that is not an inquiry. ${says}`;
  if (/schema validation/i.test(fault)) return `StackStorm did not accept the answer: it does not fit the inquiry's schema. ${says}`;
  return `StackStorm refused the answer. ${says}`;
}

function responders(inquiry: Pick<Inquiry, "users" | "roles">): string {
  const parts = [];
  if (inquiry.users.length) parts.push(`the StackStorm ${inquiry.users.length === 1 ? "user" : "users"} ${inquiry.users.join(", ")}`);
  if (inquiry.roles.length) parts.push(`members of the ${inquiry.roles.length === 1 ? "role" : "roles"} ${inquiry.roles.join(", ")}`);
  return parts.join(" or ");
}

