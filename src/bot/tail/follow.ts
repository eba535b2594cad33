/**
 * Follows one execution: a stream of its own (`st2.execution.output__create` and
 * `st2.execution__update`, filtered to this execution by StackStorm's `execution_ids`, so no
 * other execution's output is ever read), a catch-up read of the output so far after every
 * (re)connect, and a sink shown at most once per interval. The end: a final catch-up read,
 * the sink shown once more with the final status, and a closing line through the outbox.
 */
import { logger } from "../../lib/log.ts";
import { describeError, SendError } from "../../lib/errors.ts";
import type { St2Client } from "../../st2/client.ts";
import { St2Stream } from "../../st2/stream.ts";
import { executionOutput, OUTPUT_EVENT } from "../../st2/output.ts";
import type { Execution } from "../../st2/schemas.ts";
import { OutputBuffer, unseenPieces } from "./output.ts";
import { finalLine, TERMINAL, type TailView } from "./render.ts";
import type { Pacer, Sink } from "./sinks.ts";

const log = logger("bot.tail");

const UPDATE_EVENT = "st2.execution__update";
/** Attempts at the last show before giving up on it (the closing line still goes out). */
const FINAL_TRIES = 5;
/** Longest wait between those attempts, whatever a rate limit asks. */
const FINAL_WAIT_CAP_MS = 30_000;
/** Refusals in a row (not rate limits, not network trouble) after which a follow stops showing; its closing line still goes out. */
const MAX_REFUSALS = 3;
/** Pieces held while a catch-up read runs (their merge is quadratic in the worst case); beyond this the read and the final read are trusted. */
const MAX_PENDING = 500;

/** What one follow needs. */
export interface FollowOptions {
  execution: Execution;
  /** The id as chat shows it. */
  shown: string;
  /** The identity the output is read as (the caller's own under client-side auth). */
  client: St2Client;
  sink: Sink;
  /** Sends a message through the outbox (never lost): the closing line. */
  reply(text: string): Promise<void>;
  intervalMs: number;
  /** Shared edit budget (edit sinks only). */
  pacer?: Pacer;
  /** After this long the follow stops, saying so, while the execution runs on. */
  maxFollowMs: number;
  /** Show at once after the first catch-up read instead of at the first interval (a `tail` command; after an ack, the ack goes first). */
  showAtOnce: boolean;
  /** Called once when the follow ended (finished, gave up or stopped). */
  onEnd(): void;
  streamIdleTimeoutMs?: number;
}

/** One followed execution (see the file comment). */
export class LiveTail {
  private readonly out = new OutputBuffer();
  private readonly view: TailView;
  private readonly stream: St2Stream;
  private elapsed: number | undefined;
  private pending: string[] | undefined;
  private syncs = 0;
  private dirty = true;
  private showing: Promise<void> | undefined;
  private ending = false;
  /** Refusals in a row; at MAX_REFUSALS the place cannot take the live message (gone, no permission). */
  private refusals = 0;
  private timers: ReturnType<typeof setTimeout>[] = [];

  constructor(private readonly opts: FollowOptions) {
    const ex = opts.execution;
    this.view = { ref: ex.action?.ref, shown: opts.shown, status: ex.status ?? "requested", url: ex.web_url };
    this.stream = new St2Stream({
      client: opts.client,
      routeKey: "",
      only: { events: [OUTPUT_EVENT, UPDATE_EVENT], executionIds: [ex.id] },
      idleTimeoutMs: opts.streamIdleTimeoutMs,
      onEvent: (event) => this.onEvent(event.name, event.data),
      // Not awaited: the stream holds its events until onConnect returns, and the events that
      // arrive while the catch-up read runs are exactly those it must compare with the read.
      onConnect: () => void this.sync(),
    });
  }

  get id(): string {
    return this.opts.execution.id;
  }

  start(): void {
    this.stream.start();
    this.timers.push(setInterval(() => void this.tick(), this.opts.intervalMs));
    this.timers.push(setTimeout(() => void this.end("gave up"), this.opts.maxFollowMs));
  }

  /** Stops without a word (st2bot is stopping). */
  async stop(): Promise<void> {
    this.ending = true;
    this.clearTimers();
    await this.stream.stop();
    await this.showing;
  }

  private onEvent(name: string, data: unknown): void {
    const body = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
    if (name === OUTPUT_EVENT && body.execution_id === this.id && typeof body.data === "string") {
      if (this.pending && this.pending.length < MAX_PENDING) this.pending.push(body.data);
      else this.out.append(body.data);
      this.dirty = true;
    } else if (name === UPDATE_EVENT && body.id === this.id) {
      this.learn(body as Execution);
    }
  }

  /** The catch-up read: the whole output so far, plus what arrived on the stream meanwhile and is not in it. */
  private async sync(): Promise<void> {
    const round = ++this.syncs;
    this.pending = [];
    try {
      const [execution, text] = await Promise.all([this.opts.client.getExecution(this.id), executionOutput(this.opts.client, this.id)]);
      if (round !== this.syncs || this.ending) return;
      this.out.reset(text);
      for (const piece of unseenPieces(text, this.pending)) this.out.append(piece);
      this.pending = undefined;
      this.dirty = true;
      this.learn(execution);
      if (round === 1 && this.opts.showAtOnce && !this.ending) void this.tick();
    } catch (err) {
      // The stream goes on; what it brings is appended, and the next reconnect reads again.
      log.warn("could not read an execution's output so far", { id: this.id, error: describeError(err) });
      if (round === this.syncs && this.pending) for (const piece of this.pending) this.out.append(piece);
      if (round === this.syncs) this.pending = undefined;
    }
  }

  private learn(ex: Partial<Execution>): void {
    if (ex.status) this.view.status = ex.status;
    this.view.ref ??= ex.action?.ref;
    this.view.url ??= ex.web_url;
    if (typeof ex.elapsed_seconds === "number") this.elapsed = ex.elapsed_seconds;
    this.dirty = true;
    if (TERMINAL.has(this.view.status)) void this.end("finished");
  }

  /** One interval: show if something changed and the edit budget allows. */
  private async tick(): Promise<void> {
    if (this.ending || this.showing || !this.dirty || this.refusals >= MAX_REFUSALS) return;
    if ((this.opts.pacer?.take() ?? 0) > 0) return;
    // Logged by show; the next interval tries again (the pacer waits out a rate limit).
    await this.show().catch(() => undefined);
  }

  private show(): Promise<void> {
    this.dirty = false;
    const run = this.opts.sink.show(this.view, this.out).then(
      () => void (this.refusals = 0),
      (err: unknown) => {
        this.dirty = true;
        if (err instanceof SendError && err.retryAfterMs !== undefined) this.opts.pacer?.pause(err.retryAfterMs);
        if (err instanceof SendError && !err.retryable && ++this.refusals === MAX_REFUSALS) {
          log.warn("live output cannot be shown here; only the closing line will be sent", { id: this.id, error: err.message });
        } else {
          log.debug("could not show live output", { id: this.id, error: describeError(err) });
        }
        throw err;
      },
    );
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.showing = settled;
    void settled.then(() => {
      if (this.showing === settled) this.showing = undefined;
    });
    return run;
  }

  /** Finished (or followed long enough): the last show, then the closing line through the outbox. */
  private async end(why: "finished" | "gave up"): Promise<void> {
    if (this.ending) return;
    this.ending = true;
    this.clearTimers();
    void this.stream.stop();
    try {
      this.out.reset(await executionOutput(this.opts.client, this.id));
    } catch {
      // What the stream brought stands.
    }
    await this.showing;
    if (this.refusals < MAX_REFUSALS) await this.lastShow();
    const line = why === "finished"
      ? finalLine(this.view, this.elapsed)
      : `${finalLine(this.view, undefined)}: stopped following after ${Math.round(this.opts.maxFollowMs / 60_000)} min; it goes on in StackStorm`;
    try {
      await this.opts.reply(line);
    } catch (err) {
      log.error("could not queue the closing line of live output", { id: this.id, error: String(err) });
    }
    this.opts.onEnd();
  }

  private async lastShow(): Promise<void> {
    for (let attempt = 1; attempt <= FINAL_TRIES; attempt++) {
      const wait = this.opts.pacer?.take() ?? 0;
      if (wait > 0) await Bun.sleep(Math.min(wait, FINAL_WAIT_CAP_MS));
      try {
        await this.show();
        return;
      } catch (err) {
        // A refused edit may have been a message gone: the sink posts afresh on the next try.
        if (attempt === FINAL_TRIES || this.refusals >= MAX_REFUSALS) return;
        const ask = err instanceof SendError ? err.retryAfterMs : undefined;
        await Bun.sleep(Math.min(ask ?? 1000 * attempt, FINAL_WAIT_CAP_MS));
      }
    }
  }

  private clearTimers(): void {
    for (const t of this.timers) {
      clearTimeout(t);
      clearInterval(t);
    }
    this.timers = [];
  }
}
