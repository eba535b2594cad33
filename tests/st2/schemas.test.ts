import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { AliasExecutionSchema, isAliasExecution } from "../../src/st2/schemas.ts";

// isAliasExecution replaces valibot on every command's ack: it must accept exactly what the
// schema accepts. Each field at each depth is set to values of every kind, one at a time.
const kinds: unknown[] = [undefined, null, "", "s", 0, 1.5, Number.NaN, true, false, {}, [], ["x"], { ref: 1 }, { name: 2 }, new Date(0)];

const base = () => ({
  execution: {
    id: "5f0",
    status: "requested",
    web_url: "https://st2/#/history/5f0",
    action: { ref: "core.local" },
    start_timestamp: "2026-01-01T00:00:00.000000Z",
    elapsed_seconds: 0.5,
    parameters: { cmd: "uptime" },
    context: { user: "alice" },
    result: { anything: [1] },
    runner: { name: "local-shell-cmd" },
    liveaction: { big: "object" },
  },
  actionalias: { name: "a", ref: "p.a", ack: { enabled: true, append_url: false, format: "ok", extra: { slack: {} } }, result: {}, extra: {} },
  message: "ack",
  extra: { color: "#fff" },
});

/** Every path to a field the schema names (and the objects themselves), as key lists. */
const paths = [
  [], ["execution"], ["actionalias"], ["message"], ["extra"],
  ...["id", "status", "web_url", "action", "start_timestamp", "end_timestamp", "elapsed_seconds", "parameters", "context", "result", "runner"].map((k) => ["execution", k]),
  ["execution", "action", "ref"], ["execution", "runner", "name"],
  ...["name", "ref", "ack", "result", "extra"].map((k) => ["actionalias", k]),
  ...["enabled", "append_url", "format", "extra"].map((k) => ["actionalias", "ack", k]),
];

function withValue(path: string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const root: Record<string, unknown> = base();
  let node = root;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[path.at(-1)!] = value;
  return root;
}

describe("isAliasExecution", () => {
  test("accepts a full answer, and exactly what AliasExecutionSchema accepts", () => {
    expect(isAliasExecution(base())).toBe(true);
    let checked = 0;
    for (const path of paths) {
      for (const value of kinds) {
        const body = withValue(path, value);
        expect([path.join("."), value, isAliasExecution(body)]).toEqual([path.join("."), value, v.safeParse(AliasExecutionSchema, body).success]);
        checked++;
      }
    }
    expect(checked).toBe(paths.length * kinds.length);
  });
});
