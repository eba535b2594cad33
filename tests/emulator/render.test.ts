import { describe, expect, test } from "bun:test";
import { renderTemplate } from "../../src/emulator/jinja.ts";
import { defaultResultMessage, type ExecutionView } from "../../src/emulator/result.ts";

/**
 * Expected texts were produced by Jinja2 3.1 with StackStorm's environment (trim_blocks,
 * lstrip_blocks, its to_human_time_from_seconds filter) from the chatops pack's default.j2.
 */
const defaultTemplateCases: [ExecutionView, string][] = [
  [{"id": "e1", "action": {"ref": "core.local"}, "status": "succeeded", "web_url": "https://h/#/history/e1/general", "elapsed_seconds": 2.4, "runner": {"name": "local-shell-cmd"}, "result": {"failed": false, "stderr": "", "return_code": 0, "succeeded": true, "stdout": "hello"}}, "\nAction core.local completed.\nstatus : succeeded\nexecution: e1\n\nweb_url: https://h/#/history/e1/general\n\nTook 2s to complete.\n\nresult :\n--------\nstdout : hello\n\n"],
  [{"id": "e2", "action": {"ref": "core.local"}, "status": "failed", "web_url": "https://h/#/history/e2/general", "elapsed_seconds": 0.35, "runner": {"name": "local-shell-cmd"}, "result": {"failed": true, "stderr": "boom\nbang", "return_code": 1, "succeeded": false, "stdout": "line1\nline2\n"}}, "\nAction core.local completed.\nstatus : failed\nexecution: e2\n\nweb_url: https://h/#/history/e2/general\n\nTook 0.35μs to complete.\n\nresult :\n--------\nstderr :       \n  boom\nbang\nreturn_code : 1\nstdout :       \n  line1\nline2\n\n"],
  [{"id": "e3", "action": {"ref": "core.remote"}, "status": "succeeded", "web_url": "https://h/x", "elapsed_seconds": 65, "runner": {"name": "remote-shell-cmd"}, "result": {"web1": {"failed": false, "stderr": "", "return_code": 0, "succeeded": true, "stdout": "up 3 days"}, "web2": {"failed": false, "stderr": "", "return_code": 0, "succeeded": true, "stdout": "a\nb"}}}, "\nAction core.remote completed.\nstatus : succeeded\nexecution: e3\n\nweb_url: https://h/x\n\nTook 1m5s to complete.\n\nresult :\n--------\nweb1 : \n  stdout : up 3 days\n\nweb2 : \n  stdout :       \n    a\nb\n\n"],
  [{"id": "e4", "action": {"ref": "packs.list"}, "status": "succeeded", "web_url": "https://h/x", "elapsed_seconds": 3725, "runner": {"name": "python-script"}, "result": {"exit_code": 0, "result": {"core": {"version": "3.9"}, "chatops": "1.1"}, "stderr": "", "stdout": ""}}, "\nAction packs.list completed.\nstatus : succeeded\nexecution: e4\n\nweb_url: https://h/x\n\nTook 1h2m5s to complete.\n\nresult :\n--------\nresult : \n  core : \n    version : 3.9\n  chatops : 1.1\n\n"],
  [{"id": "e5", "action": {"ref": "x.y"}, "status": "succeeded", "web_url": "", "elapsed_seconds": 0, "runner": {"name": "orquesta"}, "result": {"output": {"a": 1}, "msg": "two\nlines"}}, "\nAction x.y completed.\nstatus : succeeded\nexecution: e5\n\n\n\nresult :\n--------\noutput : \n  a : 1\nmsg :       \n  two\nlines\n\n"],
  [{"id": "e6", "action": {"ref": "x.y"}, "status": "succeeded", "runner": {"name": "noop"}, "result": "plain"}, "\nAction x.y completed.\nstatus : succeeded\nexecution: e6\n\n\n\nresult :\n--------\nplain\n"],
  [{"id": "e7", "action": {"ref": "x.y"}, "status": "succeeded", "runner": {"name": "noop"}, "result": {}}, "\nAction x.y completed.\nstatus : succeeded\nexecution: e7\n\n\n\n"],
  [{"id": "e8", "action": {"ref": "x.y"}, "status": "succeeded", "runner": {"name": "python-script"}, "result": {"result": [1, "a"], "exit_code": 0, "stdout": "ok", "flag": true, "n": null}}, "\nAction x.y completed.\nstatus : succeeded\nexecution: e8\n\n\n\nresult :\n--------\nresult : [1, 'a']\nstdout : ok\n\n"],
];

const templateCases: [string, Record<string, unknown>, string][] = [
  ["{% if execution.status == 'succeeded' %}\nThe last for _{{execution.parameters.scan_title}}_:{~}\n{% for item in execution.result.scans %}\n*{{item.id}}:* {{item.d}} ({{item.duration}} {% if item.active %} - scanning{% else %}complete{% endif %})\n{% endfor %}\n{% else %}\nFailed!\n{% endif %}\n", {"execution": {"status": "succeeded", "parameters": {"scan_title": "T"}, "result": {"scans": [{"id": 1, "d": "x", "duration": 2.5, "active": true}, {"id": 2, "d": "y", "duration": 3, "active": false}]}}}, "The last for _T_:{~}\n*1:* x (2.5  - scanning)\n*2:* y (3 complete)\n"],
  ["Ran {{ execution.parameters.cmd }} on {{ execution.parameters.hosts }} ok={{ execution.ok }} n={{ none_x }}{{ execution.parameters.flag }}", {"execution": {"parameters": {"cmd": "ls", "hosts": ["a", "b"], "flag": true}}}, "Ran ls on ['a', 'b'] ok= n=True"],
  ["  {%- if 'dns_zone' in execution.parameters -%}\n    {{ execution.parameters.dns_zone }}\n  {%- else -%}\n    none\n  {%- endif %}\nend", {"execution": {"parameters": {"dns_zone": "z"}}}, "zend"],
  ["a\n    {% if x %}\n  yes {{ x }}\n    {% endif %}\nb {# c #}\n", {"x": {"k": "v"}}, "a\n  yes {'k': 'v'}\nb "],
];

describe("the default result template", () => {
  test.each(defaultTemplateCases)("renders %# exactly as StackStorm does", (execution, expected) => {
    expect(defaultResultMessage(execution)).toBe(expected);
  });
});

describe("alias templates", () => {
  test.each(templateCases)("renders %# as Jinja does", (template, context, expected) => {
    expect(renderTemplate(template, context, false)).toBe(expected);
  });

  test("strict rendering fails with Jinja's words", () => {
    const context = { execution: { id: "1" } };
    expect(() => renderTemplate("Ran command *{{cmd}}* on hosts.", context, true)).toThrow("'cmd' is undefined");
    expect(() => renderTemplate("{{ execution.nope }}", context, true)).toThrow("'dict object' has no attribute 'nope'");
    expect(() => renderTemplate("{{ execution.id.x }}", context, true)).toThrow("'str object' has no attribute 'x'");
  });
});
