/** A raw reader of the emulator's SSE stream, so tests see the exact bytes on the wire. */

export interface SseEvent {
  event: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary event bodies
  data: any;
}

export interface RawStream {
  status: number;
  headers: Headers;
  /** Everything received so far, byte for byte. */
  text(): string;
  /** Complete `event:`/`data:` frames received so far. */
  events(): SseEvent[];
  /** Resolves when `check` holds for the text received, or rejects after `timeoutMs`. */
  until(check: (text: string) => boolean, timeoutMs?: number): Promise<void>;
  /** Waits for the first event named `name` (and matching `where`). */
  next(name: string, where?: (data: any) => boolean, timeoutMs?: number): Promise<SseEvent>;
  /** Resolves when the server ends the response. */
  ended: Promise<void>;
  close(): void;
}

export async function openStream(url: string, headers: Record<string, string> = {}): Promise<RawStream> {
  const abort = new AbortController();
  const res = await fetch(url, { headers, signal: abort.signal });
  let buffer = "";
  const decoder = new TextDecoder();
  const waiters = new Set<() => void>();
  const ended = (async () => {
    if (!res.body) return;
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        for (const w of waiters) w();
      }
    } catch {
      // aborted by close()
    }
  })();

  const events = (): SseEvent[] =>
    buffer
      .split("\n\n")
      .slice(0, -1)
      .map((frame) => /^\n*event: (.*)\ndata: (.*)$/s.exec(frame))
      .flatMap((m) => {
        if (!m) return [];
        try {
          return [{ event: m[1]!, data: JSON.parse(m[2]!) as unknown }];
        } catch {
          return []; // a garbage frame
        }
      });

  const until = (check: (text: string) => boolean, timeoutMs = 3000) =>
    new Promise<void>((resolve, reject) => {
      const test = () => {
        if (!check(buffer)) return;
        waiters.delete(test);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(test);
        reject(new Error(`stream condition not met in ${timeoutMs} ms; received: ${JSON.stringify(buffer)}`));
      }, timeoutMs);
      waiters.add(test);
      test();
    });

  const find = (name: string, where?: (data: any) => boolean) => events().find((e) => e.event === name && (!where || where(e.data)));

  return {
    status: res.status,
    headers: res.headers,
    text: () => buffer,
    events,
    until,
    async next(name, where, timeoutMs) {
      await until(() => find(name, where) !== undefined, timeoutMs);
      return find(name, where)!;
    },
    ended,
    close: () => abort.abort(),
  };
}
