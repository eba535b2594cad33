/**
 * Executions and their life: created by an alias execution (status `requested`), finished after
 * `completionDelayMs`, then announced on the notify route as `chatops.post_result` would.
 * Inquiries are executions of the `inquirer` runner waiting in status `pending`.
 */
import { logger } from "../lib/log.ts";
import { isoMicro, objectId } from "./http.ts";
import { resultMessage, type ExecutionView } from "./result.ts";
import type { EmulatorState } from "./state.ts";
import type { StreamHub } from "./stream.ts";
import type { Completion, EmulatedExecution, InquirySpec } from "./types.ts";

const log = logger("emulator");

/** What creating an execution needs; mirrors the alias-execution request. */
export type NewExecution = Pick<EmulatedExecution, "action" | "alias" | "parameters" | "user" | "apiUser" | "sourceChannel" | "sourceContext" | "notifyRoute">;

export class Executions {
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(
    private readonly state: EmulatorState,
    private readonly hub: StreamHub,
    private readonly webui: () => string,
  ) {}

  /** The execution as `GET /executions/{id}` shows it. */
  view(ex: EmulatedExecution): ExecutionView {
    const elapsed = ex.endedAt ? (ex.endedAt.getTime() - ex.startedAt.getTime()) / 1000 : undefined;
    const [pack, ...rest] = ex.action.ref.split(".");
    const context: Record<string, unknown> = { user: ex.user };
    if (ex.alias) {
      context.action_alias_ref = { id: ex.alias.id, name: ex.alias.name };
      context.api_user = ex.apiUser ?? null;
      context.source_channel = ex.sourceChannel ?? null;
    }
    return {
      id: ex.id,
      action: { ref: ex.action.ref, name: rest.join("."), pack, runner_type: ex.action.runner, parameters: ex.action.parameters ?? {} },
      runner: { name: ex.action.runner },
      liveaction: { id: ex.liveactionId, action: ex.action.ref, parameters: ex.parameters, status: ex.status },
      status: ex.status,
      start_timestamp: isoMicro(ex.startedAt),
      ...(ex.endedAt ? { end_timestamp: isoMicro(ex.endedAt), elapsed_seconds: elapsed } : {}),
      web_url: `${this.webui()}/#/history/${ex.id}/general`,
      parameters: ex.parameters,
      context,
      ...(ex.result !== undefined ? { result: ex.result } : {}),
      log: [{ timestamp: isoMicro(ex.startedAt), status: "requested" }],
    };
  }

  /** Creates an execution, tells the stream, and schedules its completion. */
  create(spec: NewExecution): EmulatedExecution {
    const ex: EmulatedExecution = {
      ...spec,
      id: objectId(),
      liveactionId: objectId(),
      status: "requested",
      startedAt: new Date(),
    };
    this.state.executions.push(ex);
    this.publish(ex, "create");
    const delay = this.state.opts.completionDelayMs ?? 20;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.finish(ex, this.decide(ex));
    }, delay);
    this.timers.add(timer);
    return ex;
  }

  /** Creates a pending inquiry and shows it on the stream, as a workflow's `core.ask` would. */
  createInquiry(spec: InquirySpec, user = "st2admin"): EmulatedExecution {
    const inquiry = { schema: spec.schema ?? {}, users: spec.users ?? [], roles: spec.roles ?? [], route: spec.route ?? "", ttl: spec.ttl ?? 1440 };
    const ex: EmulatedExecution = {
      id: objectId(),
      liveactionId: objectId(),
      action: { ref: "core.ask", runner: "inquirer" },
      parameters: { ...inquiry },
      user,
      status: "pending",
      startedAt: new Date(),
      result: { ...inquiry, response: {} },
      inquiry,
    };
    this.state.executions.push(ex);
    this.publish(ex, "create");
    return ex;
  }

  /** Records an inquiry's answer: it succeeds with the response as its result. */
  respond(ex: EmulatedExecution, response: Record<string, unknown>): void {
    if (!ex.inquiry) return;
    ex.inquiry.response = response;
    ex.status = "succeeded";
    ex.endedAt = new Date();
    ex.result = { ...(ex.result as object), response };
    this.publish(ex, "update");
  }

  /** Stops pending completions (emulator shutdown). */
  cancelAll(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private decide(ex: EmulatedExecution): Completion {
    const hook = this.state.opts.complete ?? ((e: EmulatedExecution) => e.action.complete?.(e.parameters));
    return hook(ex) ?? genericCompletion(ex.action.runner);
  }

  private finish(ex: EmulatedExecution, outcome: Completion): void {
    ex.status = outcome.status;
    ex.result = outcome.result;
    ex.endedAt = new Date();
    this.publish(ex, "update");
    this.announceResult(ex);
  }

  /** `notifytrigger` → `chatops.post_result` → `post_message`, collapsed into one event. */
  private announceResult(ex: EmulatedExecution): void {
    if (!ex.notifyRoute) return;
    const text = resultMessage(this.view(ex), ex.alias, ex.alias?.result);
    if (!text) return;
    const payload: Record<string, unknown> = {
      message: text.message,
      channel: ex.sourceChannel ?? null,
      user: ex.apiUser ?? null,
      whisper: false,
    };
    if (ex.sourceContext !== undefined && ex.sourceContext !== null) payload.context = ex.sourceContext;
    if (text.extra !== undefined) payload.extra = text.extra;
    this.announce(ex.notifyRoute, payload);
  }

  /** Publishes `st2.announcement__<route>` with `{payload}` as `post_message` does. */
  announce(route: string, payload: Record<string, unknown>): void {
    log.debug("announcement", { route });
    this.hub.publish(`st2.announcement__${route}`, { payload });
  }

  private publish(ex: EmulatedExecution, what: "create" | "update"): void {
    const view = this.view(ex);
    this.hub.publish(`st2.execution__${what}`, view);
    this.hub.publish(`st2.liveaction__${what}`, { ...(view.liveaction as object), id: ex.liveactionId, result: ex.result ?? {} });
  }
}

/** What an action with no scripted outcome returns, shaped like its runner's results. */
function genericCompletion(runner: string): Completion {
  if (runner.includes("shell")) {
    return { status: "succeeded", result: { failed: false, succeeded: true, return_code: 0, stdout: "done", stderr: "" } };
  }
  return { status: "succeeded", result: { exit_code: 0, result: "done", stdout: "", stderr: "" } };
}
