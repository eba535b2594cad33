/**
 * LinkedBackend, the base the network backends share: start/stop/status go through the link,
 * nothing reaches a handler before `start`, and a failing or slow handler never reaches the
 * connection's event loop (the backend tests cover each backend's use of it).
 */
import { expect, test } from "bun:test";
import { LinkedBackend, type Lifecycle } from "../../src/chat/linked.ts";
import type { BackendStatus, Message } from "../../src/chat/types.ts";
import type { Logger } from "../../src/lib/log.ts";

const msg: Message = { text: "hi", from: { id: "u1", nick: "alice", aclId: "alice", st2User: "alice" }, direct: true };

class Probe extends LinkedBackend {
  readonly calls: string[] = [];
  readonly errors: string[];
  protected readonly link: Lifecycle;

  constructor() {
    const errors: string[] = [];
    const log: Logger = { debug() {}, info() {}, warn() {}, error: (m, f) => void errors.push(`${m}: ${String(f?.error)}`) };
    super(log, (err) => `described ${String(err)}`);
    this.errors = errors;
    const status: BackendStatus = { state: "connected", since: 1 };
    this.link = {
      start: async () => void this.calls.push("start"),
      stop: async () => void this.calls.push("stop"),
      status: () => status,
    };
  }

  incoming(m: Message | undefined): void {
    this.deliver(m);
  }
}

test("start, stop and status go through the link; start keeps the handler", async () => {
  const b = new Probe();
  const got: Message[] = [];
  b.incoming(msg); // before start: nobody to hand it to, dropped
  await b.start((m) => void got.push(m));
  expect(b.status()).toEqual({ state: "connected", since: 1 });
  b.incoming(msg);
  b.incoming(undefined);
  await Bun.sleep(0);
  await b.stop();
  expect(b.calls).toEqual(["start", "stop"]);
  expect(got).toEqual([msg]);
});

test("a handler that throws or rejects is logged with the backend's wording, never thrown into the caller", async () => {
  const b = new Probe();
  let slow = 0;
  await b.start(async (m) => {
    if (m.text === "boom") throw new Error("boom");
    await Bun.sleep(20);
    slow++;
  });
  expect(() => b.incoming({ ...msg, text: "boom" })).not.toThrow();
  b.incoming(msg); // returns at once: the handler's time is not the caller's
  expect(slow).toBe(0);
  await Bun.sleep(40);
  expect(slow).toBe(1);
  expect(b.errors).toEqual(["the message handler failed: described Error: boom"]);
});
