/**
 * Every execution being followed live, on one backend: at most MAX_TAILS at once (each holds a
 * stream connection to StackStorm), one follow per execution and place, one shared edit budget,
 * and a stop for all of them when st2bot stops.
 */
import type { ChatBackend } from "../../chat/types.ts";
import type { St2Client } from "../../st2/client.ts";
import type { Execution } from "../../st2/schemas.ts";
import type { Context } from "../types.ts";
import { LiveTail } from "./follow.ts";
import { canEdit, EditSink, Pacer, SequenceSink } from "./sinks.ts";

/** Executions followed at once, at most. */
export const MAX_TAILS = 10;
/** The edit budget when the backend publishes no send rate. */
const DEFAULT_EDIT_RATE = { perSecond: 1, burst: 3 };

/** How the follows behave; the durations are milliseconds. */
export interface TailsOptions {
  backend: ChatBackend;
  /** Between two shows of one follow (`stackstorm.live_output_interval`). */
  intervalMs: number;
  /** Default 1 hour. */
  maxFollowMs?: number;
  maxTails?: number;
  streamIdleTimeoutMs?: number;
}

/** What `follow` did. */
export type FollowOutcome = { kind: "started"; edits: boolean } | { kind: "already" } | { kind: "busy"; max: number };

/** The follows of one bot (see the file comment). */
export class Tails {
  private readonly active = new Map<string, LiveTail>();
  private readonly pacer: Pacer;
  private readonly cap: number;

  constructor(private readonly opts: TailsOptions) {
    this.pacer = new Pacer(opts.backend.sendRate ?? DEFAULT_EDIT_RATE);
    // Room for the header and the "not shown" note within one message of this service.
    this.cap = Math.max(200, Math.min(3000, opts.backend.maxMessageLength - 400));
  }

  /** Executions followed now. */
  get size(): number {
    return this.active.size;
  }

  /**
   * Follows `execution` into the place `ctx` came from, reading as `client`. `showAtOnce`: the
   * first show right after the catch-up read (a `tail` command) instead of one interval later
   * (after an ack, which should arrive first).
   */
  follow(ctx: Context, client: St2Client, execution: Execution, shown: string, showAtOnce: boolean): FollowOutcome {
    const { backend } = this.opts;
    const target = backend.replyTarget(ctx.msg);
    const key = `${execution.id} ${JSON.stringify(target)}`;
    if (this.active.has(key)) return { kind: "already" };
    if (this.active.size >= (this.opts.maxTails ?? MAX_TAILS)) return { kind: "busy", max: this.opts.maxTails ?? MAX_TAILS };
    const reply = (text: string) => ctx.reply(text);
    const edits = canEdit(backend);
    const tail = new LiveTail({
      execution,
      shown,
      client,
      sink: edits ? new EditSink(backend, target, this.cap) : new SequenceSink(reply, this.cap),
      reply,
      intervalMs: this.opts.intervalMs,
      pacer: edits ? this.pacer : undefined,
      maxFollowMs: this.opts.maxFollowMs ?? 3_600_000,
      showAtOnce,
      onEnd: () => this.active.delete(key),
      streamIdleTimeoutMs: this.opts.streamIdleTimeoutMs,
    });
    this.active.set(key, tail);
    tail.start();
    return { kind: "started", edits };
  }

  /** Stops every follow without a word (st2bot is stopping). */
  async stop(): Promise<void> {
    const all = [...this.active.values()];
    this.active.clear();
    await Promise.allSettled(all.map((t) => t.stop()));
  }
}
