/** JIDs (`[local@]domain[/resource]`), the addresses of everything on XMPP. */

/** A parsed JID; `local` and `domain` are lower-cased (they compare case-insensitively). */
export interface Jid {
  local: string;
  domain: string;
  resource: string;
  /** `local@domain` (or `domain`). */
  bare: string;
  /** `bare/resource`, or `bare` without a resource. */
  full: string;
}

const BAD_LOCAL = /["&'/:<>@\s]/;

/** Parses `[local@]domain[/resource]`; undefined when it is not a JID. */
export function parseJid(text: string): Jid | undefined {
  const value = text.trim();
  const slash = value.indexOf("/");
  const resource = slash >= 0 ? value.slice(slash + 1) : "";
  const bareText = slash >= 0 ? value.slice(0, slash) : value;
  const at = bareText.indexOf("@");
  const local = at >= 0 ? bareText.slice(0, at).toLowerCase() : "";
  const domain = (at >= 0 ? bareText.slice(at + 1) : bareText).toLowerCase();
  if (!domain || /[@\s/]/.test(domain) || (at >= 0 && (!local || BAD_LOCAL.test(local)))) return undefined;
  if (slash >= 0 && !resource) return undefined;
  const bare = local ? `${local}@${domain}` : domain;
  return { local, domain, resource, bare, full: resource ? `${bare}/${resource}` : bare };
}
