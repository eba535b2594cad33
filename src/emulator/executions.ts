/**
 * Executions and their life: created by an alias execution (status `requested`), finished after
 * `completionDelayMs`, then announced on the notify route as `chatops.post_result` would.
 * Inquiries are executions of the `inquirer` runner waiting in status `pending`: a workflow
 * action with `asks` requests its `core.ask` tasks as StackStorm's workflow engine does (the task
 * context naming the chat place it was started from), pauses, and resumes once all are answered.
 */
import { logger } from "../lib/log.ts";
import { isoMicro, objectId } from "./http.ts";
import { resultMessage, type ExecutionView } from "./result.ts";
import type { EmulatorState } from "./state.ts";
import type { StreamHub } from "./stream.ts";
import { OutputLog } from "./output.ts";
import type { AskSpec, Completion, EmulatedExecution, InquirySpec } from "./types.ts";

const log = logger("emulator");

/** What creating an execution needs; mirrors the alias-execution request. */
export type NewExecution = Pick<EmulatedExecution, "action" | "alias" | "parameters" | "user" | "apiUser" | "sourceChannel" | "sourceContext" | "notifyRoute" | "context">;

export class Executions {
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  /** What executions printed (`st2.execution.output__create`, `GET /executions/{id}/output`). */
  readonly output: OutputLog;

  constructor(
    private readonly state: EmulatorState,
    private readonly hub: StreamHub,
    private readonly webui: () => string,
  ) {
    this.output = new OutputLog(hub);
  }

  /** The execution as `GET /executions/{id}` shows it. */
  view(ex: EmulatedExecution): ExecutionView {
    const elapsed = ex.endedAt ? (ex.endedAt.getTime() - ex.startedAt.getTime()) / 1000 : undefined;
    const [pack, ...rest] = ex.action.ref.split(".");
    const context: Record<string, unknown> = ex.context ?? { user: ex.user };
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
      ...(ex.parentId ? { parent: ex.parentId } : {}),
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
    if (spec.action.asks?.length) this.later(() => this.startWorkflow(ex, spec.action.asks!));
    else if (spec.action.output) this.later(() => this.print(ex, spec.action.output!));
    else this.later(() => this.finish(ex, this.decide(ex)), spec.action.durationMs);
    return ex;
  }

  /**
   * Cancels a cancelable execution (routes check that): a running one goes through `canceling`
   * as the runner stops it; either way it ends `canceled` and is announced like any other end.
   */
  cancel(ex: EmulatedExecution): void {
    if (ex.status === "running") {
      ex.status = "canceling";
      this.publish(ex, "update");
    }
    this.finish(ex, { status: "canceled", result: ex.result ?? {} });
  }

  private later(fn: () => void, ms?: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms ?? this.state.opts.completionDelayMs ?? 20);
    this.timers.add(timer);
  }

  /** Runs, printing one piece per interval as a runner streaming its output does, then finishes. */
  private print(ex: EmulatedExecution, output: NonNullable<EmulatedExecution["action"]["output"]>): void {
    ex.status = "running";
    this.publish(ex, "update");
    const step = (i: number) => {
      if (ex.status !== "running") return; // canceled meanwhile
      if (i >= output.pieces.length) {
        const stdout = this.output.text(ex.id, "stdout");
        const outcome = this.decide(ex, { status: "succeeded", result: { failed: false, succeeded: true, return_code: 0, stdout, stderr: this.output.text(ex.id, "stderr") } });
        return this.finish(ex, outcome);
      }
      this.output.write(ex, output.pieces[i]!, output.type);
      this.later(() => step(i + 1), output.intervalMs ?? 50);
    };
    step(0);
  }

  /**
   * The workflow runs, requests every `core.ask` task at once (their ids made in the same second
   * share 18 hex digits), and pauses once only pending tasks are left, as Orquesta does.
   */
  private startWorkflow(wf: EmulatedExecution, asks: AskSpec[]): void {
    wf.status = "running";
    this.publish(wf, "update");
    for (const ask of asks) this.requestAsk(wf, ask);
    wf.status = "paused";
    this.publish(wf, "update");
  }

  /**
   * One `core.ask` task execution: requested → scheduled → running → pending, each on the stream.
   * Its context is the one `workflows.request_action_execution` builds: the workflow's user,
   * `api_user` and `source_channel` copied in, the workflow under `parent`, the task under `orquesta`.
   */
  private requestAsk(wf: EmulatedExecution, ask: AskSpec): void {
    const { task, ...passed } = ask;
    const [pack] = wf.action.ref.split(".");
    const parent: Record<string, unknown> = { execution_id: wf.id, user: wf.user, pack };
    const chat: Record<string, unknown> = {};
    if (wf.apiUser) chat.api_user = wf.apiUser;
    if (wf.sourceChannel) chat.source_channel = wf.sourceChannel;
    const ex: EmulatedExecution = {
      id: objectId(),
      liveactionId: objectId(),
      action: { ref: "core.ask", runner: "inquirer" },
      parameters: { ...passed },
      user: wf.user,
      status: "requested",
      startedAt: new Date(),
      inquiry: inquiryOf(passed),
      parentId: wf.id,
      context: {
        pack: "core",
        user: wf.user,
        parent: { ...parent, ...chat },
        orquesta: { workflow_execution_id: objectId(), task_execution_id: objectId(), task_name: task, task_id: task, task_route: 0 },
        ...chat,
      },
    };
    this.state.executions.push(ex);
    this.publish(ex, "create");
    for (const status of ["scheduled", "running"]) {
      ex.status = status;
      this.publish(ex, "update");
    }
    // The inquirer runner's result: the inquiry as asked, with StackStorm's defaults filled in.
    const { response: _none, ...asked } = ex.inquiry!;
    ex.result = asked;
    ex.status = "pending";
    this.publish(ex, "update");
  }

  /** Creates a pending inquiry and shows it on the stream, as a workflow's `core.ask` would. */
  createInquiry(spec: InquirySpec, user = "st2admin"): EmulatedExecution {
    const inquiry = inquiryOf(spec);
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

  /**
   * Records an inquiry's answer: it succeeds with the response added to its result. A workflow
   * whose asks are all answered resumes and completes (and is announced) like any execution.
   */
  respond(ex: EmulatedExecution, response: Record<string, unknown>): void {
    if (!ex.inquiry) return;
    ex.inquiry.response = response;
    ex.status = "succeeded";
    ex.endedAt = new Date();
    ex.result = { ...(ex.result as object), response };
    this.publish(ex, "update");
    const wf = ex.parentId ? this.state.execution(ex.parentId) : undefined;
    if (!wf || wf.status !== "paused") return;
    if (this.state.executions.some((e) => e.parentId === wf.id && e.status === "pending")) return;
    wf.status = "running";
    this.publish(wf, "update");
    this.later(() => this.finish(wf, this.decide(wf)));
  }

  /** Stops pending completions (emulator shutdown). */
  cancelAll(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private decide(ex: EmulatedExecution, fallback = genericCompletion(ex.action.runner)): Completion {
    const hook = this.state.opts.complete ?? ((e: EmulatedExecution) => e.action.complete?.(e.parameters));
    return hook(ex) ?? fallback;
  }

  private finish(ex: EmulatedExecution, outcome: Completion): void {
    // A cancelled execution's scheduled completion finds it over already.
    if (ex.status === "canceled") return;
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
  if (runner === "orquesta") return { status: "succeeded", result: { output: null } };
  if (runner.includes("shell")) {
    return { status: "succeeded", result: { failed: false, succeeded: true, return_code: 0, stdout: "done", stderr: "" } };
  }
  return { status: "succeeded", result: { exit_code: 0, result: "done", stdout: "", stderr: "" } };
}

/** An inquiry as the inquirer runner fills it in: StackStorm's defaults for what was not passed. */
function inquiryOf(spec: InquirySpec): Required<InquirySpec> {
  return { schema: spec.schema ?? DEFAULT_SCHEMA, users: spec.users ?? [], roles: spec.roles ?? [], route: spec.route ?? "", ttl: spec.ttl ?? 1440 };
}

/** `core.ask`'s schema when the workflow passes none (the inquirer runner's DEFAULT_SCHEMA). */
const DEFAULT_SCHEMA = {
  title: "response_data",
  type: "object",
  properties: { continue: { type: "boolean", description: "Would you like to continue the workflow?", required: true } },
};
