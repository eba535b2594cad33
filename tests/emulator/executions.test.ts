import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { assertNoViolations, startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import { openStream } from "./sse.ts";

let st2: TestEmulator;
let headers: Record<string, string>;

beforeAll(async () => {
  st2 = await startTestEmulator({
    aliases: [
      ...sampleAliases,
      { name: "off", pack: "ops", action_ref: "ops.off", formats: ["switch off"], enabled: false },
      { name: "pinned", pack: "ops", action_ref: "core.remote", formats: ["uptime of {{hosts}}"], immutable_parameters: { cmd: "uptime" } },
      { name: "bad_ack", pack: "ops", action_ref: "core.remote", formats: ["broken {{hosts}}"], ack: { format: "Ran command *{{cmd}}* on hosts.\n" } },
      { name: "quiet", pack: "ops", action_ref: "core.remote", formats: ["hush {{hosts}}"], result: { enabled: false } },
    ],
    actions: sampleActions,
    users: { st2admin: "Ch@ngeMe", mallory: "x" },
    canExecute: (user) => user !== "mallory",
    webuiUrl: "https://st2.example.com",
    completionDelayMs: 5,
  });
  headers = { "X-Auth-Token": st2.createToken("st2admin").token, "content-type": "application/json" };
});
afterAll(() => st2.stop());

const post = (path: string, body: unknown, h = headers) =>
  fetch(`${st2.apiUrl}${path}`, { method: "POST", headers: h, body: JSON.stringify(body) });

const execBody = (name: string, format: string, command: string, extra: Record<string, unknown> = {}) => ({
  name,
  format,
  command,
  user: "alice",
  source_channel: "#ops",
  notification_route: "errbot",
  ...extra,
});

describe("POST /aliasexecution", () => {
  test("201 with the execution, the alias and the rendered ack", async () => {
    const res = await post("/aliasexecution", execBody("deploy_app", "deploy {{app}}(?: to {{env=staging}})?", "deploy web"));
    expect(res.status).toBe(201);
    const body = await res.json();
    expect(body.message).toBe("Deploying *web* to staging.");
    expect(body.actionalias.ref).toBe("deploy.deploy_app");
    expect(body.execution).toMatchObject({ status: "requested", action: { ref: "deploy.app" }, parameters: { app: "web", env: "staging" } });
    expect(body.execution.web_url).toBe(`https://st2.example.com/#/history/${body.execution.id}/general`);
    expect(body.execution.context).toMatchObject({ user: "st2admin", api_user: "alice", source_channel: "#ops" });
    const ex = st2.executions.at(-1)!;
    expect(ex).toMatchObject({ user: "st2admin", apiUser: "alice", notifyRoute: "errbot", sourceChannel: "#ops" });
  });

  test("the refusals StackStorm makes, with its status codes and words", async () => {
    const cases: [unknown, number, string][] = [
      [{ ...execBody("deploy_app", "deploy {{app}}(?: to {{env=staging}})?", "deploy web"), thread: "t1" }, 400, "Additional properties are not allowed ('thread' was unexpected)"],
      [{ name: "deploy_app", format: "x", command: "x" }, 400, "'source_channel' is a required property"],
      [execBody("nope", "x", "x"), 404, 'Unable to identify action alias with name "nope".'],
      [execBody("off", "switch off", "switch off"), 400, 'Action alias with name "off" is disabled.'],
      [execBody("deploy_app", "deploy {{app}}", "deploy web"), 400, 'Format string "deploy {{app}}" is not available on the alias "deploy_app"'],
      [execBody("deploy_app", "deploy {{app}}(?: to {{env=staging}})?", "undeploy"), 400, `Command "undeploy" doesn't match format string "deploy {{app}}(?: to {{env=staging}})?"`],
      [execBody("pinned", "uptime of {{hosts}}", "uptime of web1 cmd=reboot"), 400, "Immutable arguments cannot be overriden: cmd"],
    ];
    for (const [body, status, faultstring] of cases) {
      const res = await post("/aliasexecution", body);
      expect({ status: res.status, body: await res.json() }).toEqual({ status, body: { faultstring } });
    }
    st2.violations.length = 0; // the first two were invalid on purpose
  });

  test("403 when RBAC denies the authenticated user", async () => {
    const token = st2.createToken("mallory").token;
    const res = await post("/aliasexecution", execBody("pack_list", "pack list", "pack list"), { ...headers, "X-Auth-Token": token });
    expect(res.status).toBe(403);
    expect((await res.json()).faultstring).toBe('User "mallory" doesn\'t have required permission "action_execute" on resource "action:packs:list"');
  });

  test("immutable parameters are merged; an ack that fails to render comes back as its error", async () => {
    const pinned = await (await post("/aliasexecution", execBody("pinned", "uptime of {{hosts}}", "uptime of web1"))).json();
    expect(pinned.execution.parameters).toEqual({ hosts: "web1", cmd: "uptime" });
    const res = await post("/aliasexecution", execBody("bad_ack", "broken {{hosts}}", "broken web1"));
    expect(res.status).toBe(201);
    expect((await res.json()).message).toBe("Cannot render \"format\" in field \"ack\" for alias. 'cmd' is undefined");
  });
});

describe("match_and_execute", () => {
  test("a match_multiple alias runs once per hit", async () => {
    const res = await post("/aliasexecution/match_and_execute", {
      command: "duplicate of ABC-1 and duplicate of XYZ-22",
      source_channel: "#jira",
      user: "alice",
    });
    expect(res.status).toBe(201);
    const { results } = await res.json();
    expect(results.map((r: { execution: { parameters: unknown } }) => r.execution.parameters)).toEqual([{ issue_key: "ABC-1" }, { issue_key: "XYZ-22" }]);
  });

  test("source_context is not accepted here", async () => {
    const res = await post("/aliasexecution/match_and_execute", { command: "pack list", source_channel: "c", user: "u", source_context: {} });
    expect(res.status).toBe(400);
    expect((await res.json()).faultstring).toBe("Additional properties are not allowed ('source_context' was unexpected)");
    st2.violations.length = 0;
  });
});

describe("results come back on the stream", () => {
  test("the default result text, channel, user and context arrive as st2.announcement__<route>", async () => {
    await st2.settled(); // earlier tests' executions announce too
    const stream = await openStream(`${st2.streamUrl}/stream?events=st2.announcement__*`, headers);
    try {
      const context = { thread: "1700000000.000100", backend: "slack" };
      const res = await post("/aliasexecution", { ...execBody("remote_shell_cmd", "run {{cmd}} on {{hosts}}", "run uptime on web1"), source_context: context });
      const { execution } = await res.json();
      const event = await stream.next("st2.announcement__errbot", (d) => d.payload.message.includes(execution.id));
      const done = await (await fetch(`${st2.apiUrl}/executions/${execution.id}`, { headers })).json();
      expect(done.status).toBe("succeeded");
      const took = done.elapsed_seconds < 1 ? `${done.elapsed_seconds}\u03bcs` : `${Math.round(done.elapsed_seconds)}s`;
      expect(event.data).toEqual({
        payload: {
          message:
            `\nAction core.remote completed.\nstatus : succeeded\nexecution: ${execution.id}\n\n` +
            `web_url: https://st2.example.com/#/history/${execution.id}/general\n\nTook ${took} to complete.\n\n` +
            "result :\n--------\nweb1 : \n  stdout : 10:42:01 up 12 days,  3:04,  1 user,  load average: 0.08, 0.03, 0.01\n\n",
          channel: "#ops",
          user: "alice",
          whisper: false,
          context,
        },
      });
    } finally {
      stream.close();
    }
  });

  test("an alias's result.format and result.extra are rendered; result.enabled false stays silent", async () => {
    await st2.settled();
    const stream = await openStream(`${st2.streamUrl}/stream?events=st2.announcement__*`, headers);
    try {
      await post("/aliasexecution", execBody("quiet", "hush {{hosts}}", "hush web1"));
      await post("/aliasexecution", execBody("service_status", "status of {{service}}", "status of nginx", { notification_route: "hubot" }));
      const event = await stream.next("st2.announcement__hubot");
      expect(event.data.payload.message).toBe("nginx is running since 2025-11-15 08:00 UTC.");
      expect(event.data.payload.extra.slack.fields[0].value).toBe("nginx");
      await st2.settled();
      expect(stream.events().filter((e) => e.event.startsWith("st2.announcement__"))).toHaveLength(1);
    } finally {
      stream.close();
    }
  });

  test("no route, no announcement; executions are listed newest first", async () => {
    const res = await post("/aliasexecution", { name: "pack_list", format: "pack list", command: "pack list", source_channel: "#x" });
    const { execution } = await res.json();
    await st2.settled();
    expect(st2.executions.find((e) => e.id === execution.id)?.notifyRoute).toBeUndefined();
    const list = await fetch(`${st2.apiUrl}/executions?limit=1`, { headers });
    expect((await list.json())[0].id).toBe(execution.id);
    const missing = await fetch(`${st2.apiUrl}/executions/000000000000000000000000`, { headers });
    expect(await missing.json()).toEqual({ faultstring: 'Unable to identify resource with id "000000000000000000000000".' });
  });

  test("every other request was one StackStorm accepts", () => {
    assertNoViolations(st2);
  });
});
