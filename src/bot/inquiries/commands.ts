/**
 * Answering StackStorm inquiries from chat: `st2inquiries` lists the pending ones and
 * `st2respond <id> <answer>` answers one with the caller's StackStorm client — their own linked
 * identity under client-side auth, the bot's under standalone auth — and says which identity
 * answered. Answers are checked against the inquiry's schema here first, so a typo gets a
 * message naming the property instead of a round trip to StackStorm. Ids are shown and read as
 * ids.ts describes (the shortest unique ending; any unique fragment of 6 or more digits).
 */
import type { St2Client } from "../../st2/client.ts";
import { St2ApiError } from "../../st2/http.ts";
import type { Inquiry } from "../../st2/schemas.ts";
import { CommandError } from "../../lib/errors.ts";
import type { Command, Context } from "../types.ts";
import { callStackStorm, type St2CommandDeps } from "../commands/st2.ts";
import { formatResponse, parseAnswer } from "./answer.ts";
import { FULL_ID, lookupFragment, MIN_TYPED, shortIds } from "./ids.ts";
import { acceptedText, inquiryRefusal, listNotFoundText, notPermittedText, type Answerer } from "./refusals.ts";
import { answeredNote } from "./buttons.ts";
import { answerExample, describeField, describeInquiry, inquiryFields, listCommandName, respondCommandName } from "./schema.ts";

/** What the inquiry commands need: the same as the `st2` command's, minus the alias parts. */
export type InquiryCommandDeps = Pick<St2CommandDeps, "config" | "clientFor" | "expired">;

type As = { client: St2Client; personal: boolean };

/** Candidates listed for an ambiguous id fragment; the rest are counted (one message stays short). */
const MAX_CANDIDATES = 10;

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
      const pending = await listPending(ctx, as, deps);
      await ctx.reply(renderInquiryList(deps, pending, ctx.chat.maxMessageLength));
    },
  };
}

/**
 * The list reply, each inquiry under the short id that is unique among those listed; stops
 * early (saying how many more) rather than exceed the message size.
 */
export function renderInquiryList(deps: Pick<InquiryCommandDeps, "config">, pending: Inquiry[], maxLength: number): string {
  if (pending.length === 0) return "No StackStorm inquiries are waiting for an answer.";
  const shown = shortIds(pending.map((i) => i.id));
  const budget = maxLength - 200;
  const blocks: string[] = [];
  let size = 0;
  for (const inquiry of pending) {
    const short = shown.get(inquiry.id)!;
    const fields = inquiryFields(inquiry.schema);
    const head = short === inquiry.id ? `Inquiry ${inquiry.id}:` : `Inquiry ${short} (id ${inquiry.id}):`;
    const block = [head, ...describeInquiry(inquiry, deps.config), `  Answer: ${answerExample(deps.config, short, fields)}`].join("\n");
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
      if (!match) throw new CommandError(`Tell me which inquiry and your answer, e.g. ${deps.config.bot.prefix}${name} 0a1b2c approved=yes. ${listHint(deps)}`);
      const idText = match[1]!;
      const answerText = match[2] ?? "";
      const as = await deps.clientFor(ctx);
      const { inquiry, shown } = await findInquiry(ctx, as, deps, idText);
      const parsed = parseAnswer(answerText, inquiry.schema);
      if (!parsed.ok) throw new CommandError(`${parsed.error}\n${answerHelp(deps, inquiry, shown)}`);
      const done = await callInquiries(ctx, as, deps, async () => {
        try {
          return await as.client.respondInquiry(inquiry.id, parsed.response);
        } catch (err) {
          if (err instanceof St2ApiError && err.status === 403) {
            throw new CommandError(notPermittedText(deps.config, await answerer(as), inquiry, err.faultstring));
          }
          throw err;
        }
      });
      const response = formatResponse(done.response);
      // A click: the clicked message now shows who answered what, and its controls are gone.
      if (ctx.msg.action) await ctx.msg.action.update(answeredNote(ctx.msg.from.nick, response, new Date()));
      await ctx.reply(acceptedText(await answerer(as), shown, response));
    },
  };
}

/** Who StackStorm takes the client for; the name is left out when StackStorm cannot say. */
async function answerer(as: As): Promise<Answerer> {
  try {
    const user = await as.client.whoami();
    return { personal: as.personal, ...(user.username ? { st2User: user.username } : {}) };
  } catch {
    return { personal: as.personal };
  }
}

function listHint(deps: InquiryCommandDeps): string {
  return `Type ${deps.config.bot.prefix}${listCommandName(deps.config)} to see the pending inquiries.`;
}

function answerHelp(deps: InquiryCommandDeps, inquiry: Inquiry, shown: string): string {
  const fields = inquiryFields(inquiry.schema);
  if (fields.length === 0) return `This inquiry takes any JSON object, e.g. ${answerExample(deps.config, shown, fields)}`;
  const asks = fields.map((f) => `  ${describeField(f)}`).join("\n");
  return `This inquiry asks for:\n${asks}\nFor example: ${answerExample(deps.config, shown, fields)}`;
}

/** The pending inquiries; a 404 says what StackStorm answered, not "no inquiry with that id". */
async function listPending(ctx: Context, as: As, deps: InquiryCommandDeps): Promise<Inquiry[]> {
  return callStackStorm(ctx, as, deps, async () => {
    try {
      return await as.client.listInquiries();
    } catch (err) {
      if (err instanceof St2ApiError && err.status === 404) throw new CommandError(listNotFoundText(err.method, err.path, err.faultstring));
      throw err;
    }
  });
}

/**
 * The inquiry a typed id names, and the id as chat shows it back. A whole id is fetched
 * directly, so StackStorm itself says when it was already answered or timed out; a fragment
 * must start or end exactly one pending inquiry's id, else the candidates are listed.
 */
async function findInquiry(ctx: Context, as: As, deps: InquiryCommandDeps, idText: string): Promise<{ inquiry: Inquiry; shown: string }> {
  if (FULL_ID.test(idText)) {
    const inquiry = await callInquiries(ctx, as, deps, () => as.client.getInquiry(idText));
    return { inquiry, shown: inquiry.id };
  }
  if (idText.length < MIN_TYPED) {
    throw new CommandError(`"${idText}" is too short to name an inquiry: give at least ${MIN_TYPED} characters of its id. ${listHint(deps)}`);
  }
  const pending = await listPending(ctx, as, deps);
  const found = lookupFragment(idText, pending);
  const shown = shortIds(pending.map((i) => i.id));
  switch (found.kind) {
    case "one":
      return { inquiry: found.item, shown: shown.get(found.item.id)! };
    case "several": {
      const list = found.items.slice(0, MAX_CANDIDATES).map((i) => `  ${shown.get(i.id)}  (id ${i.id})`).join("\n");
      const more = found.items.length > MAX_CANDIDATES ? `\n  …and ${found.items.length - MAX_CANDIDATES} more: give more of the id.` : "";
      throw new CommandError(`"${idText}" is part of the ids of ${found.items.length} pending inquiries; which one? Type one of:\n${list}${more}`);
    }
    default:
      throw new CommandError(`No pending inquiry has an id starting or ending with "${idText}" (it may have been answered or timed out already). ${listHint(deps)}`);
  }
}

/**
 * A StackStorm call about one inquiry, with its refusals in plain words (`inquiryRefusal`).
 * Everything else (unreachable, expired login, 5xx) goes through `callStackStorm` like every
 * st2 command.
 */
async function callInquiries<T>(ctx: Context, as: As, deps: InquiryCommandDeps, fn: () => Promise<T>): Promise<T> {
  return callStackStorm(ctx, as, deps, async () => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof St2ApiError) {
        const plain = inquiryRefusal(err.status, err.faultstring);
        if (plain) throw new CommandError(plain);
      }
      throw err;
    }
  });
}
