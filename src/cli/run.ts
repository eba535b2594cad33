/** `st2bot run`: start st2bot and keep it running until a signal (or, piped text, until input ends). */
import type { Config } from "../config/schema.ts";
import { startApp, type App, type AppOptions } from "../app.ts";
import { TextBackend } from "../chat/text.ts";
import { logger } from "../lib/log.ts";

const log = logger("cli");

/**
 * Starts st2bot and resolves with the exit code once SIGINT or SIGTERM arrives, or — for the
 * terminal backend — once input has ended and the results still on their way were delivered
 * (`settled`, when given, says when that is). A second signal during the shutdown kills at once.
 */
export async function runUntilStopped(config: Config, opts: Omit<AppOptions, "config"> = {}, settled?: (app: App) => boolean): Promise<number> {
  const app = await startApp({ config, ...opts });
  // hubot-stackstorm's SIGUSR2: reload the action aliases now.
  const reload = () => void app.aliases.refresh().then((ok) => log.info(ok ? `reloaded ${app.aliases.index.size} action aliases` : "alias reload failed; keeping the last good set"));
  process.on("SIGUSR2", reload);
  let signalled: (why: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => (signalled = resolve));
  const onSignal = (signal: NodeJS.Signals) => signalled(signal);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const inputDone = app.backend instanceof TextBackend ? app.backend.ended.then(() => lingerUntilQuiet(app, settled)).then(() => "end of input") : new Promise<string>(() => {});
  // Cluster mode: a leader that lost its lease must not speak again; it exits 75 (EX_TEMPFAIL)
  // and its supervisor starts it afresh as a standby.
  const LOST = "lost the cluster lease";
  const lost = app.cluster ? app.cluster.lost.then(() => LOST) : new Promise<string>(() => {});
  const why = await Promise.race([stopped, inputDone, lost]);
  log.info(`stopping (${why})`);
  for (const [signal, fn] of [["SIGUSR2", reload], ["SIGINT", onSignal], ["SIGTERM", onSignal]] as const) process.off(signal, fn);
  await app.stop();
  return why === LOST ? 75 : 0;
}

/**
 * Piped input has ended: results may still be on their way from StackStorm. Wait until the
 * outbox is empty and `settled` (e.g. every execution ended) has held for a short grace — the
 * announcement of an execution that just ended is still crossing the stream — or, without
 * `settled`, until a quiet spell passes.
 */
async function lingerUntilQuiet(app: App, settled?: (app: App) => boolean): Promise<void> {
  const quietMs = Number(process.env.ST2BOT_LINGER_MS ?? 3000);
  const graceMs = Math.min(quietMs, 300);
  const deadline = Date.now() + Math.max(quietMs * 10, 30_000);
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    await Bun.sleep(50);
    const busy = app.outbox.stats().pending > 0 || (settled ? !settled(app) : false);
    if (busy) quietSince = Date.now();
    else if (Date.now() - quietSince >= (settled ? graceMs : quietMs)) return;
  }
}
