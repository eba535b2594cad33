/**
 * Which address a request comes from. The TCP peer, unless that peer is one of
 * `web.trusted_proxies`: then the forwarding header it sent (`X-Forwarded-For`, or RFC 7239
 * `Forwarded` with `web.proxy_header = "forwarded"`) names the client. From any other peer the
 * headers are the client's say-so and count for nothing: rotating them must not buy a fresh
 * rate limit.
 */
import { BlockList, isIP } from "node:net";

/** The header a trusted proxy names the client in. */
export type ProxyHeader = "x-forwarded-for" | "forwarded";

/** The set of trusted proxy addresses; empty by default, so no forwarding header is believed. */
export class TrustedProxies {
  private readonly list = new BlockList();
  readonly size: number;

  /** `entries`: addresses and CIDR blocks (the config schema has checked their form). */
  constructor(entries: readonly string[] = []) {
    for (const entry of entries) {
      const [ip, bits] = entry.split("/") as [string, string | undefined];
      const type = isIP(ip) === 6 ? "ipv6" : "ipv4";
      if (bits === undefined) this.list.addAddress(ip, type);
      else this.list.addSubnet(ip, Number(bits), type);
    }
    this.size = entries.length;
  }

  /** True when `address` is one of the trusted proxies (IPv4-mapped IPv6 included). */
  trusts(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.size > 0 && this.list.check(address, family === 6 ? "ipv6" : "ipv4");
  }
}

/** `1.2.3.4:80` → `1.2.3.4`, `[::1]:80` and `"[::1]"` → `::1`; anything else unchanged. */
function bareAddress(value: string): string {
  const v = value.trim().replace(/^"(.*)"$/, "$1");
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(v);
  if (bracketed) return bracketed[1]!;
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(v);
  return v4port ? v4port[1]! : v;
}

/** The hops a header lists, first (farthest) to last (nearest). */
function hops(headers: Headers, header: ProxyHeader): string[] {
  if (header === "x-forwarded-for") {
    // Several X-Forwarded-For lines are joined with ", " by the Headers object: one list.
    return (headers.get("x-forwarded-for") ?? "").split(",").map(bareAddress).filter(Boolean);
  }
  const out: string[] = [];
  for (const element of (headers.get("forwarded") ?? "").split(",")) {
    const pair = element.split(";").map((p) => p.trim()).find((p) => /^for=/i.test(p));
    out.push(pair ? bareAddress(pair.slice(4)) : "unknown");
  }
  return out.filter(Boolean);
}

/**
 * The client's address: walking from the peer back through the forwarded hops, the first one
 * that is not a trusted proxy. A hop that is not an address (`unknown`, garbage) stops the walk
 * at the trusted proxy that passed it on. Undefined when the peer is unknown (in-process).
 */
export function clientAddress(headers: Headers, peer: string | undefined, trusted: TrustedProxies, header: ProxyHeader = "x-forwarded-for"): string | undefined {
  if (!peer || !trusted.trusts(peer)) return peer;
  let client = peer;
  const chain = hops(headers, header);
  for (let i = chain.length - 1; i >= 0; i--) {
    const hop = chain[i]!;
    if (!isIP(hop)) break;
    client = hop;
    if (!trusted.trusts(hop)) break;
  }
  return client;
}
