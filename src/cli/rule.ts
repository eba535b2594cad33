/**
 * The StackStorm rule that sends this bot's results back: the chatops pack's notify rule with
 * our route (StackStorm's own rule_notify_errbot.yaml when the route is "errbot").
 */

/**
 * The notify rules StackStorm's chatops pack ships, by the route they serve. Installing a
 * second rule for the same route posts every result twice.
 */
const STOCK_RULES: Record<string, string> = { errbot: "chatops.notify-errbot", hubot: "chatops.notify" };

/** The stock chatops rule that already serves `route`, if StackStorm ships one. */
export function stockRuleFor(route: string): string | undefined {
  return Object.hasOwn(STOCK_RULES, route) ? STOCK_RULES[route] : undefined;
}

/** The rule as YAML; a leading comment says when StackStorm's own rule already serves the route. */
export function notifyRule(route: string): string {
  const safe = route.replace(/[^A-Za-z0-9_]/g, "_");
  const stock = stockRuleFor(route);
  const note = stock
    ? `# StackStorm's chatops pack already ships ${stock}, which serves route "${route}":
#   st2 rule get ${stock}     (enabled: true means you need nothing below)
# Install this rule only if that one is missing; with both enabled every result is posted twice.
`
    : "";
  return `---
${note}# Install on StackStorm: save as /opt/stackstorm/packs/chatops/rules/notify_${safe}.yaml, then
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
