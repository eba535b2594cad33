/**
 * `POST /chatops/action` on its own (in-process, `app.handle`): the checks before a body reaches
 * the backend's click handler, and that only what the handler recognises gets a 200.
 */
import { expect, test } from "bun:test";
import { createApp } from "../../src/web/server.ts";
import { ACTION_PATH, actionsPlugin } from "../../src/web/actions.ts";

const setup = () => {
  const bodies: unknown[] = [];
  const app = createApp([actionsPlugin({ handle: async (b) => (bodies.push(b), (b as { ok?: boolean }).ok ? { update: { message: "x" } } : undefined) })]);
  const post = (body: string, type = "application/json") =>
    app.handle(new Request(`http://localhost${ACTION_PATH}`, { method: "POST", headers: { "content-type": type }, body }));
  return { bodies, post };
};

test("a click the backend recognises: 200 with its answer as JSON", async () => {
  const { post, bodies } = setup();
  const res = await post(JSON.stringify({ ok: true }));
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ update: { message: "x" } });
  expect(bodies).toEqual([{ ok: true }]);
});

test("refused before the backend sees it: too large (413), not JSON (415), broken JSON (400); unrecognised: 400", async () => {
  const { post, bodies } = setup();
  expect((await post(JSON.stringify({ pad: "x".repeat(20_000) }))).status).toBe(413);
  expect((await post("user_id=1", "application/x-www-form-urlencoded")).status).toBe(415);
  expect((await post("{")).status).toBe(400);
  expect(bodies).toEqual([]);
  const res = await post(JSON.stringify({ ok: false }));
  expect(res.status).toBe(400);
  expect(await res.json()).toEqual({ error: "not a click this bot knows" });
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
});

test("an address sending requests that are no clicks is throttled (429 with Retry-After); others are not", async () => {
  let from = "192.0.2.1";
  const app = createApp([actionsPlugin({ handle: async () => undefined, peerAddress: () => from, failuresPerMinute: 2, clock: () => 1_000_000 })]);
  const post = () => app.handle(new Request(`http://localhost${ACTION_PATH}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }));
  expect((await post()).status).toBe(400);
  expect((await post()).status).toBe(400);
  const limited = await post();
  expect(limited.status).toBe(429);
  expect(limited.headers.get("retry-after")).toBe("60");
  from = "192.0.2.2";
  expect((await post()).status).toBe(400);
});
