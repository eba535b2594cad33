/**
 * Whose address a request is (issue 10, item 6): forwarding headers count only from
 * `web.trusted_proxies`. The end-to-end cases (real sockets, the login limit) are in
 * login.test.ts; these pin the header walk itself.
 */
import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import { clientAddress, TrustedProxies } from "../../src/web/proxies.ts";

const h = (headers: Record<string, string>) => new Headers(headers);

describe("clientAddress", () => {
  test("with no trusted proxy (the default), the peer is the client whatever the headers say", () => {
    const none = new TrustedProxies();
    for (const peer of ["127.0.0.1", "::1", "10.0.0.5"]) {
      expect(clientAddress(h({ "x-forwarded-for": "192.0.2.1" }), peer, none)).toBe(peer);
      expect(clientAddress(h({ forwarded: "for=192.0.2.1" }), peer, none, "forwarded")).toBe(peer);
    }
    expect(clientAddress(h({ "x-forwarded-for": "192.0.2.1" }), undefined, none)).toBeUndefined();
  });

  test("from a trusted proxy, the nearest hop that is not a trusted proxy is the client", () => {
    const trusted = new TrustedProxies(["127.0.0.1", "10.0.0.0/8", "fd00::/8"]);
    expect(clientAddress(h({ "x-forwarded-for": "192.0.2.1" }), "127.0.0.1", trusted)).toBe("192.0.2.1");
    // The client wrote "6.6.6.6" itself; the proxies appended what they saw.
    expect(clientAddress(h({ "x-forwarded-for": "6.6.6.6, 192.0.2.1, 10.1.2.3" }), "127.0.0.1", trusted)).toBe("192.0.2.1");
    expect(clientAddress(h({ "x-forwarded-for": "6.6.6.6, 2001:db8::7" }), "fd12::1", trusted)).toBe("2001:db8::7");
    expect(clientAddress(h({ "x-forwarded-for": "192.0.2.1" }), "::ffff:127.0.0.1", trusted)).toBe("192.0.2.1");
    // An untrusted peer's header is ignored even when it names a trusted address.
    expect(clientAddress(h({ "x-forwarded-for": "10.0.0.1" }), "192.0.2.200", trusted)).toBe("192.0.2.200");
  });

  test("a hop that is not an address stops at the proxy that passed it on", () => {
    const trusted = new TrustedProxies(["127.0.0.1"]);
    expect(clientAddress(h({ "x-forwarded-for": "192.0.2.1, garbage" }), "127.0.0.1", trusted)).toBe("127.0.0.1");
    expect(clientAddress(h({}), "127.0.0.1", trusted)).toBe("127.0.0.1");
  });

  test("RFC 7239 Forwarded, with quotes, ports and IPv6 brackets, only when chosen", () => {
    const trusted = new TrustedProxies(["127.0.0.1"]);
    const headers = h({ forwarded: 'for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https', "x-forwarded-for": "192.0.2.9" });
    expect(clientAddress(headers, "127.0.0.1", trusted, "forwarded")).toBe("2001:db8:cafe::17");
    expect(clientAddress(headers, "127.0.0.1", trusted)).toBe("192.0.2.9");
    expect(clientAddress(h({ forwarded: "for=192.0.2.60:8080;by=10.0.0.1" }), "127.0.0.1", trusted, "forwarded")).toBe("192.0.2.60");
    expect(clientAddress(h({ forwarded: "for=unknown" }), "127.0.0.1", trusted, "forwarded")).toBe("127.0.0.1");
  });
});

describe("web.trusted_proxies in the config", () => {
  test("addresses and CIDR blocks are accepted, anything else named", () => {
    const config = parseConfig('[web]\ntrusted_proxies = ["127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"]\n', "c.toml", {});
    expect(config.web.trusted_proxies).toHaveLength(4);
    expect(parseConfig("", "c.toml", {}).web.trusted_proxies).toEqual([]);
    for (const bad of ["localhost", "10.0.0.0/33", "::1/129", "1.2.3.4/8/8", "10.0.0.0/"]) {
      expect(() => parseConfig(`[web]\ntrusted_proxies = ["${bad}"]\n`, "c.toml", {})).toThrow("must be an IP address or a CIDR block");
    }
  });
});
