/**
 * The StackStorm rule that sends this bot's results back: the chatops pack's notify rule with
 * our route (StackStorm's own rule_notify_errbot.yaml when the route is "errbot").
 */
export function notifyRule(route: string): string {
  const safe = route.replace(/[^A-Za-z0-9_]/g, "_");
  return `---
# Install on StackStorm: save as /opt/stackstorm/packs/chatops/rules/notify_${safe}.yaml, then
#   st2 rule create /opt/stackstorm/packs/chatops/rules/notify_${safe}.yaml   (or: st2ctl reload --register-rules)
name: "notify_${safe}"
pack: "chatops"
enabled: true
description: "Notification rule to send results of action executions to st2bot (route ${route})"
trigger:
  type: "core.st2.generic.notifytrigger"
criteria:
  trigger.route:
    pattern: "${route}"
    type: "equals"
action:
  ref: chatops.post_result
  parameters:
    channel: "{{ trigger.data.source_channel }}"
    user: "{{ trigger.data.user }}"
    execution_id: "{{ trigger.execution_id }}"
    route: "{{ trigger.route }}"
    context: "{{ trigger.data.source_context }}"
`;
}
