/**
 * A handful of realistic aliases and the actions behind them, for `st2bot demo` and tests that
 * want something to type. Results are canned but shaped like their runners' real results, so
 * the default result template renders them as StackStorm would.
 */
import type { ActionSpec, AliasInput, Completion } from "./types.ts";

const ok = (result: unknown): Completion => ({ status: "succeeded", result });

function shellResult(stdout: string, returnCode = 0) {
  return { failed: returnCode !== 0, succeeded: returnCode === 0, return_code: returnCode, stdout, stderr: returnCode ? "command failed" : "" };
}

/** What the demo hosts print for a few commands people like to try. */
function fakeCommand(cmd: string, host: string): string {
  const first = cmd.trim().split(/\s+/)[0] ?? "";
  const outputs: Record<string, string> = {
    uptime: " 10:42:01 up 12 days,  3:04,  1 user,  load average: 0.08, 0.03, 0.01",
    hostname: host,
    whoami: "stanley",
    date: "Thu Nov 27 10:42:01 UTC 2025",
    df: "Filesystem      Size  Used Avail Use% Mounted on\n/dev/sda1        40G   11G   27G  29% /",
    free: "              total        used        free\nMem:           7.8G        2.1G        4.2G",
  };
  return outputs[first] ?? `ran "${cmd}"`;
}

export const sampleActions: ActionSpec[] = [
  {
    ref: "packs.list",
    runner: "python-script",
    description: "List installed packs",
    complete: () => ok({ exit_code: 0, result: { chatops: "3.9.0", core: "3.9.0", linux: "3.9.0", packs: "3.9.0" }, stderr: "", stdout: "" }),
  },
  {
    ref: "core.remote",
    runner: "remote-shell-cmd",
    description: "Action to execute arbitrary linux command remotely.",
    parameters: { cmd: { type: "string" }, hosts: { type: "string" } },
    complete: (p) => {
      const hosts = String(p.hosts ?? "localhost").split(",").map((h) => h.trim()).filter(Boolean);
      return ok(Object.fromEntries(hosts.map((h) => [h, shellResult(fakeCommand(String(p.cmd ?? ""), h))])));
    },
  },
  {
    ref: "deploy.app",
    runner: "local-shell-script",
    description: "Deploy an application to an environment",
    parameters: { app: { type: "string" }, env: { type: "string", default: "staging" } },
    complete: (p) => ok(shellResult(`Deployed ${p.app} 1.4.2 to ${p.env}\n3 of 3 instances healthy`)),
  },
  {
    ref: "jira.mark_duplicate",
    runner: "python-script",
    description: "Mark a Jira issue as a duplicate",
    parameters: { issue_key: { type: "string" } },
    complete: (p) => ok({ exit_code: 0, result: `${p.issue_key} marked as duplicate`, stderr: "", stdout: "" }),
  },
  {
    ref: "hello_st2.greet",
    runner: "python-script",
    description: "Say hello",
    parameters: { greeting: { type: "string" } },
    complete: (p) => ok({ exit_code: 0, result: `${p.greeting ?? "Hello"}, human!`, stderr: "", stdout: "" }),
  },
  {
    ref: "ops.service_status",
    runner: "python-script",
    description: "Report whether a service is running",
    parameters: { service: { type: "string" } },
    complete: (p) => ok({ exit_code: 0, result: { service: p.service, state: "running", since: "2025-11-15 08:00 UTC" }, stderr: "", stdout: "" }),
  },
];

export const sampleAliases: AliasInput[] = [
  {
    name: "pack_list",
    pack: "packs",
    action_ref: "packs.list",
    description: "List installed StackStorm packs",
    formats: ["pack list", "packs list"],
    ack: { format: "Looking up your packs..." },
  },
  {
    name: "remote_shell_cmd",
    pack: "examples",
    action_ref: "core.remote",
    description: "Execute a command on a remote host via SSH.",
    formats: ["run {{cmd}} on {{hosts}}"],
    ack: { format: "Running `{{ execution.parameters.cmd }}` on {{ execution.parameters.hosts }}..." },
  },
  {
    name: "deploy_app",
    pack: "deploy",
    action_ref: "deploy.app",
    description: "Deploy an application (staging unless told otherwise)",
    // Literal text in a format is a regular expression: the group makes " to <env>" optional.
    formats: [{ display: "deploy <app> [to <env>]", representation: ["deploy {{app}}(?: to {{env=staging}})?"] }],
    ack: { format: "Deploying *{{ execution.parameters.app }}* to {{ execution.parameters.env }}.", append_url: true },
  },
  {
    name: "mark_duplicate",
    pack: "jira",
    action_ref: "jira.mark_duplicate",
    description: "Mark every mentioned issue as a duplicate",
    formats: [
      {
        display: "duplicate of <issue_key>",
        representation: ["(?:\\b|^)duplicate of (?P<issue_key>[A-Z][A-Z0-9]+-[0-9]+)(?:\\b|$)"],
        match_multiple: true,
      },
    ],
  },
  {
    name: "greet",
    pack: "hello_st2",
    action_ref: "hello_st2.greet",
    description: "Say hello (no acknowledgement)",
    formats: ["say {{greeting=Hello}}"],
    ack: { enabled: false },
  },
  {
    name: "service_status",
    pack: "ops",
    action_ref: "ops.service_status",
    description: "Is a service running?",
    formats: ["status of {{service}}"],
    ack: { format: "Checking {{ execution.parameters.service }}..." },
    result: {
      format: "{% if execution.status == 'succeeded' %}{{ execution.result.result.service }} is {{ execution.result.result.state }} since {{ execution.result.result.since }}.{% else %}Could not check {{ execution.parameters.service }}.{% endif %}",
      extra: { color: "#2eb886", slack: { color: "#2eb886", fields: [{ title: "service", value: "{{ execution.parameters.service }}", short: true }] } },
    },
  },
];
