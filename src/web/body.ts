/** Request-body handling shared by the webhook and the login API: bounded reads, strict JSON. */

/**
 * Reads at most `max` bytes of the body (checking Content-Length first, then the bytes that
 * really arrive); undefined when it is larger.
 */
export async function readLimited(request: Request, max: number): Promise<Uint8Array | undefined> {
  const declared = request.headers.get("content-length");
  if (declared !== null && !(Number(declared) <= max)) return undefined;
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** Whether a Content-Type says JSON (`application/json`, with or without parameters). */
export const isJson = (contentType: string | null): boolean =>
  contentType !== null && /^application\/json\s*(;|$)/i.test(contentType.trim());

/** Decodes strict UTF-8 JSON; the error is safe to show. */
export function decodeJson(body: Uint8Array): { ok: true; value: unknown } | { ok: false; error: string } {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    return { ok: false, error: "the body is not valid UTF-8" };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, error: "the body is not valid JSON" };
  }
}
