/**
 * Where live output goes. A service with edits (`post` + `edit` on the backend) gets ONE
 * message, edited in place; the others get a sequence of messages, each with what is new.
 *
 * Durability: the edited message goes to the service directly, around the outbox. An edit that
 * is lost is superseded by the next one, and holding edits in the outbox would put them in the
 * target's ordered queue, where a stream of edits would delay every other message to that place
 * (and a retried stale edit would overwrite a newer one). A sequence goes through the outbox
 * (`reply`): those messages are content, kept in order with the ack and rate-limited per
 * target by the outbox like any reply. The final status is always sent through the outbox.
 */
import type { ChatBackend, MessageRef, Target } from "../../chat/types.ts";
import { SendError } from "../../lib/errors.ts";
import { type OutputBuffer, tailOf } from "./output.ts";
import { liveMessage, sequenceMessage, type TailView } from "./render.ts";

/** Shows the state of a followed execution; throws (SendError) when the service refused. */
export interface Sink {
  show(view: TailView, out: OutputBuffer): Promise<void>;
}

/** A live message is re-posted this often at most when it can no longer be edited (deleted, too old). */
const MAX_REPOSTS = 3;

/** One message, edited in place (see the file comment). */
export class EditSink implements Sink {
  private ref: MessageRef | undefined;
  private last = "";
  private reposts = 0;

  constructor(
    private readonly backend: ChatBackend & Required<Pick<ChatBackend, "post" | "edit">>,
    private readonly target: Target,
    /** Characters of output the message shows at most. */
    private readonly cap: number,
  ) {}

  async show(view: TailView, out: OutputBuffer): Promise<void> {
    const raw = liveMessage(view, out.tail(this.cap));
    const text = this.backend.escape ? this.backend.escape(raw) : raw;
    if (text === this.last) return;
    if (!this.ref) {
      this.ref = await this.backend.post(this.target, { text });
    } else {
      try {
        await this.backend.edit(this.ref, { text });
      } catch (err) {
        // Gone or too old to edit: the next show posts a fresh message (a few times at most).
        if (err instanceof SendError && !err.retryable && this.reposts++ < MAX_REPOSTS) this.ref = undefined;
        throw err;
      }
    }
    this.last = text;
  }
}

/** Messages a sequence sends at most per followed execution; past it, one line says where the rest is. */
export const MAX_SEQUENCE = 20;

/** A sequence of messages through the outbox, each with the output that is new (see the file comment). */
export class SequenceSink implements Sink {
  private upTo = 0;
  private sent = 0;
  private stopped = false;

  constructor(
    private readonly reply: (text: string) => Promise<void>,
    private readonly cap: number,
  ) {}

  async show(view: TailView, out: OutputBuffer): Promise<void> {
    const fresh = out.since(this.upTo);
    if (!fresh.text || this.stopped) return;
    this.upTo = out.total;
    if (this.sent >= MAX_SEQUENCE) {
      this.stopped = true;
      const where = view.url ? `: ${view.url}` : "";
      return this.reply(`${view.ref ? `${view.ref} ` : ""}${view.shown}: more output than chat should hold; the rest is in StackStorm${where}`);
    }
    this.sent++;
    await this.reply(sequenceMessage(view, tailOf(fresh.text, this.cap, fresh.skipped)));
  }
}

/**
 * The edit budget shared by every followed execution on one backend: a token bucket at the
 * backend's published send rate, and a pause for all of them when the service answered a rate
 * limit (Slack's and Rocket.Chat's limits count per method across the workspace, not per message).
 */
export class Pacer {
  private tokens: number;
  private last: number;
  private pausedUntil = 0;

  constructor(
    private readonly rate: { perSecond: number; burst: number },
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = Math.max(1, rate.burst);
    this.last = now();
  }

  /** Milliseconds to wait before an edit may go; 0 means go now (and it is counted). */
  take(): number {
    const now = this.now();
    if (now < this.pausedUntil) return this.pausedUntil - now;
    this.tokens = Math.min(Math.max(1, this.rate.burst), this.tokens + ((now - this.last) * this.rate.perSecond) / 1000);
    this.last = now;
    if (this.tokens < 1) return Math.ceil(((1 - this.tokens) * 1000) / this.rate.perSecond);
    this.tokens -= 1;
    return 0;
  }

  /** The service asked to wait `ms` (a 429's Retry-After): nobody edits until then. */
  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
  }
}

/** Whether the backend can edit what it posted. */
export function canEdit(backend: ChatBackend): backend is ChatBackend & Required<Pick<ChatBackend, "post" | "edit">> {
  return typeof backend.post === "function" && typeof backend.edit === "function";
}
