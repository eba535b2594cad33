/**
 * The controls of a message, made sendable: each choice's command exchanged for a fresh token
 * (store/actions.ts keeps only its hash). Runs at send time, for each attempt, so a token exists
 * only in the message the chat service received.
 */
import type { ActionRequest, ChatAction } from "../chat/types.ts";

/** Where tokens come from (store/actions.ts `ActionTokens`). */
export interface TokenIssuer {
  issue(group: string, command: string, expiresAt: number): string;
}

/** `requests` with a token issued for every choice. */
export function issueActions(tokens: TokenIssuer, requests: ActionRequest[]): ChatAction[] {
  return requests.map((r): ChatAction => {
    const choices = r.choices.map((c) => ({ label: c.label, ...(c.style ? { style: c.style } : {}), token: tokens.issue(r.group, c.command, r.expiresAt) }));
    return r.kind === "select" ? { kind: "select", placeholder: r.placeholder ?? "Choose", choices } : { kind: "buttons", choices };
  });
}
