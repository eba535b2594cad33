/**
 * Some libraries talk on `console` (the Mattermost client logs every connect, close and error
 * event, with whole event objects). On st2bot's stdout that is noise at best — the terminal
 * backend's stdout is the chat — so their calls are run with `console` pointed at a logger.
 */
import { formatWithOptions } from "node:util";
import type { Logger } from "./log.ts";

const METHODS = ["log", "info", "debug", "warn", "error"] as const;

/**
 * Runs `fn` with every console method writing one debug line to `log` instead (objects shown
 * on one line), and puts `console` back afterwards, even when `fn` throws. Only what `fn` does
 * synchronously is caught: wrap each library entry point and callback separately.
 */
export function withConsoleTo<T>(log: Logger, fn: () => T): T {
  const saved = METHODS.map((m) => console[m]);
  const write = (...args: unknown[]) => log.debug(formatWithOptions({ breakLength: Infinity, depth: 2 }, ...args).replace(/\s*\n\s*/g, " "));
  for (const m of METHODS) console[m] = write;
  try {
    return fn();
  } finally {
    METHODS.forEach((m, i) => (console[m] = saved[i]!));
  }
}

/**
 * The socket with its `on<event>` handlers run under `withConsoleTo`, so what a library logs
 * from inside them goes to `log`. Works on any object with WebSocket's handler properties.
 */
export function quietHandlers<S extends WebSocket>(socket: S, log: Logger): S {
  for (const name of ["onopen", "onclose", "onerror", "onmessage"] as const) {
    const desc = findAccessor(socket, name);
    if (!desc?.set || !desc.get) continue;
    Object.defineProperty(socket, name, {
      configurable: true,
      get: () => desc.get!.call(socket),
      set: (handler: unknown) =>
        desc.set!.call(socket, typeof handler === "function" ? (ev: unknown) => withConsoleTo(log, () => handler.call(socket, ev)) : handler),
    });
  }
  return socket;
}

function findAccessor(obj: object, name: string): PropertyDescriptor | undefined {
  for (let o: object | null = obj; o; o = Object.getPrototypeOf(o)) {
    const desc = Object.getOwnPropertyDescriptor(o, name);
    if (desc) return desc;
  }
  return undefined;
}
