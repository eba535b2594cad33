/**
 * The ReconnectingLink every network backend runs on, driven by a scripted driver: one loop,
 * one rule for `since`, retry-after honoured, a refused configuration fails start.
 */
import { describe, expect, test } from "bun:test";
import { ReconnectingLink, type LinkDriver } from "../../src/chat/link.ts";
import { Backoff } from "../../src/lib/backoff.ts";
import { ConfigError, SendError } from "../../src/lib/errors.ts";
import { logger } from "../../src/lib/log.ts";
import { waitFor } from "../support/wait.ts";

const log = logger("test.link");
const fast = () => new Backoff({ initialMs: 10, maxMs: 20, random: () => 1 });

/** A driver whose attempts follow `script` (an Error fails that attempt), then succeed. */
function scripted(script: Array<Error | "ok"> = []) {
  const d = {
    attempts: [] as number[],
    closes: 0,
    gate: undefined as Promise<void> | undefined,
    driver: {
      connect: async () => {
        d.attempts.push(Date.now());
        if (d.gate) await d.gate;
        const next = script.shift();
        if (next instanceof Error) throw next;
        return "as @bot";
      },
      close: async () => void d.closes++,
    } satisfies LinkDriver,
  };
  return d;
}

describe("ReconnectingLink", () => {
  test("connected with the driver's detail; stop closes and says stopped", async () => {
    const d = scripted();
    const link = new ReconnectingLink(d.driver, { log, backoff: fast() });
    expect(link.status()).toMatchObject({ state: "disconnected", detail: "not started" });
    await link.start();
    expect(link.status()).toMatchObject({ state: "connected", detail: "as @bot" });
    await link.stop();
    expect(link.status().state).toBe("stopped");
    expect(d.closes).toBe(1);
  });

  test("a ConfigError from the first attempt fails start and stops the link", async () => {
    const d = scripted([new ConfigError("refused")]);
    const link = new ReconnectingLink(d.driver, { log, backoff: fast() });
    await expect(link.start()).rejects.toBeInstanceOf(ConfigError);
    await waitFor("stopped", () => link.status().state === "stopped", 2_000);
    await Bun.sleep(50);
    expect(d.attempts).toHaveLength(1);
  });

  test("any other failure is retried in the background, never sooner than a retry-after", async () => {
    const d = scripted([new SendError("rate-limited", true, 300), new Error("down")]);
    const link = new ReconnectingLink(d.driver, { log, backoff: fast() });
    await link.start();
    expect(link.status().state).toBe("disconnected");
    expect(link.status().detail).toMatch(/^rate-limited; retrying in 300 ms$/);
    await waitFor("connected", () => link.status().state === "connected", 2_000);
    expect(d.attempts).toHaveLength(3);
    expect(d.attempts[1]! - d.attempts[0]!).toBeGreaterThanOrEqual(290);
    expect(d.attempts[2]! - d.attempts[1]!).toBeLessThan(200);
    await link.stop();
  });

  test("since moves when the state changes, never for a new detail alone", async () => {
    const link = new ReconnectingLink(scripted().driver, { log, backoff: fast() });
    await link.start();
    const since = link.status().since;
    await Bun.sleep(5);
    link.setState("connected", "not in ops@conference (forbidden)");
    expect(link.status()).toMatchObject({ state: "connected", detail: "not in ops@conference (forbidden)", since });
    link.setState("disconnected", "gone");
    expect(link.status().since).toBeGreaterThan(since);
    await link.stop();
  });

  test("drops start exactly one loop, and only while connected and running", async () => {
    const d = scripted(["ok", new Error("still down")]);
    const link = new ReconnectingLink(d.driver, { log, backoff: fast() });
    await link.start();
    link.dropped("closed");
    link.dropped("closed again");
    await waitFor("connected again", () => link.status().state === "connected" && d.attempts.length === 3, 2_000);
    await Bun.sleep(50);
    expect(d.attempts).toHaveLength(3); // start, the failed retry, the good one: one loop
    await link.stop();
    link.dropped("after stop");
    await Bun.sleep(50);
    expect(d.attempts).toHaveLength(3);
    expect(link.status().state).toBe("stopped");
  });

  test("stop while an attempt is opening closes what it opened and stays stopped", async () => {
    const d = scripted();
    let open!: () => void;
    d.gate = new Promise((resolve) => (open = resolve));
    const link = new ReconnectingLink(d.driver, { log, backoff: fast() });
    const starting = link.start();
    await waitFor("attempting", () => d.attempts.length === 1, 2_000);
    await link.stop();
    open();
    await starting;
    expect(link.status().state).toBe("stopped");
    expect(d.closes).toBe(2);
  });
  test("a drop is taken while the backend reports its library resuming (\"connecting\"), not before start", async () => {
    const d = scripted();
    const link = new ReconnectingLink(d.driver, { log, backoff: fast() });
    link.dropped("before start");
    expect(d.attempts).toHaveLength(0);
    await link.start();
    link.setState("connecting", "gateway closed (1006); resuming");
    link.dropped("the library gave up");
    await waitFor("reconnected", () => d.attempts.length === 2 && link.status().state === "connected", 2_000);
    await link.stop();
  });
});
