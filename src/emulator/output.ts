/**
 * Execution output as StackStorm records and streams it: each piece a runner prints becomes an
 * `ActionExecutionOutputDB` document, published on the stream as `st2.execution.output__create`
 * (`ActionExecutionOutputAPI`: `id, execution_id, action_ref, runner_ref, timestamp, output_type,
 * data, delay`), and `GET /api/v1/executions/{id}/output` answers the concatenated `data` of
 * what was recorded so far as `text/plain` (`action_execution_output_controller.get_one`).
 */
import { Fault, isoMicro, objectId } from "./http.ts";
import type { StreamHub } from "./stream.ts";
import type { EmulatedExecution } from "./types.ts";

/** One recorded piece of output. */
export interface OutputRecord {
  id: string;
  execution_id: string;
  action_ref: string;
  runner_ref: string;
  timestamp: string;
  output_type: string;
  data: string;
  delay: number | null;
}

/** Every execution's output, in the order it was produced. */
export class OutputLog {
  private readonly records: OutputRecord[] = [];

  constructor(private readonly hub: StreamHub) {}

  /** Records one piece and publishes it on the stream. */
  write(ex: EmulatedExecution, data: string, type = "stdout"): OutputRecord {
    const record: OutputRecord = {
      id: objectId(),
      execution_id: ex.id,
      action_ref: ex.action.ref,
      runner_ref: ex.action.runner,
      timestamp: isoMicro(new Date()),
      output_type: type,
      data,
      delay: null,
    };
    this.records.push(record);
    this.hub.publish("st2.execution.output__create", record);
    return record;
  }

  /** The recorded output of one execution (`output_type` `all` or one type), concatenated. */
  text(executionId: string, type = "all"): string {
    return this.records
      .filter((r) => r.execution_id === executionId && (type === "all" || r.output_type === type))
      .map((r) => r.data)
      .join("");
  }

  /** `GET /executions/{id}/output`: 404 for an unknown execution, else the text. */
  response(ex: EmulatedExecution | undefined, id: string, type: string | undefined): Response {
    if (!ex) throw new Fault(404, `Unable to identify resource with id "${id}".`);
    if (type !== undefined && !["all", "stdout", "stderr"].includes(type)) {
      throw new Fault(400, `'${type}' is not one of ['all', 'stdout', 'stderr']`);
    }
    return new Response(this.text(ex.id, type), { status: 200, headers: { "content-type": "text/plain; charset=UTF-8" } });
  }
}
