/**
 * An execution's output so far: `GET <api_url>/executions/{id}/output`, which StackStorm answers
 * as `text/plain` (the `data` of every output record, concatenated), not JSON, so it does not go
 * through the client's JSON pipeline. Used as the catch-up read before following the stream's
 * `st2.execution.output__create` events.
 */
import { faultOf, pathOf, St2ApiError } from "./http.ts";
import type { St2Client } from "./client.ts";

/** The event StackStorm publishes for each piece of output (`ActionExecutionOutputAPI`). */
export const OUTPUT_EVENT = "st2.execution.output__create";

/**
 * The output recorded so far, as the identity of `client` may see it (RBAC `execution_view`).
 * A refused credential is renewed once, as every other call is; failures are St2ApiError
 * (status 0 when StackStorm is unreachable).
 */
export async function executionOutput(client: Pick<St2Client, "http" | "provider" | "urls">, id: string): Promise<string> {
  const url = `${client.urls.api}/executions/${encodeURIComponent(id)}/output?output_type=all`;
  let header = await client.provider.header();
  let res = await client.http.open("GET", url, { headers: header });
  if (res.status === 401) {
    await res.body?.cancel();
    if (await client.provider.onUnauthorized(header)) {
      header = await client.provider.header();
      res = await client.http.open("GET", url, { headers: header });
    }
  }
  const text = await res.text();
  if (!res.ok) throw new St2ApiError(res.status, faultOf(text, res), "GET", pathOf(url));
  return text;
}
