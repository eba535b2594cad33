import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { parseConfig } from "../../src/config/load.ts";
import { ConfigError, isRetryable } from "../../src/lib/errors.ts";
import { registerSecret } from "../../src/lib/log.ts";
import { St2ApiError, St2Http } from "../../src/st2/http.ts";
import { fakeServer, jsonResponse, makeCerts, type TestCerts } from "./helpers.ts";

const SECRET = "header-secret-value-1234";
const ECHOED = "echoed-token-value-5678";

describe("errors", () => {
  const fake = fakeServer((_req, seen) => {
    const status = Number(seen.path.split("/").pop());
    if (seen.path.startsWith("/plain/")) return new Response("<html>bad gateway</html>", { status, statusText: "Bad Gateway" });
    if (seen.path === "/slow") return Bun.sleep(500).then(() => jsonResponse(200, {}));
    if (seen.path === "/ok") return jsonResponse(200, { hello: "world" });
    if (seen.path === "/echo") return jsonResponse(401, { faultstring: `Unauthorized - Token "${ECHOED}" not found` });
    return jsonResponse(status, { faultstring: `fault ${status}` });
  });
  afterAll(() => fake.stop());
  const http = new St2Http();

  for (const status of [400, 403, 404, 500]) {
    test(`a ${status} surfaces StackStorm's faultstring`, async () => {
      const err = await http
        .request("GET", `${fake.base}/api/v1/thing/${status}?st2-api-key=${SECRET}`, { headers: { "St2-Api-Key": SECRET } })
        .catch((e) => e);
      expect(err).toBeInstanceOf(St2ApiError);
      expect(err.status).toBe(status);
      expect(err.faultstring).toBe(`fault ${status}`);
      expect(err.userMessage).toBe(`fault ${status}`);
      expect(err.message).toBe(`GET /api/v1/thing/${status} failed: ${status} fault ${status}`);
      expect(err.message).not.toContain(SECRET);
      expect(isRetryable(err)).toBe(status >= 500);
    });
  }

  test("a secret StackStorm echoes in its faultstring is masked before the error can reach chat", async () => {
    registerSecret(ECHOED);
    const err = await http.request("GET", `${fake.base}/echo`, { headers: { "X-Auth-Token": ECHOED } }).catch((e) => e);
    expect(err.status).toBe(401);
    expect(err.userMessage).toBe('Unauthorized - Token "***" not found');
    expect(err.faultstring).not.toContain(ECHOED);
    expect(err.message).not.toContain(ECHOED);
  });

  test("a body without faultstring falls back to the status text", async () => {
    const err = await http.request("POST", `${fake.base}/plain/502`, { json: { a: 1 } }).catch((e) => e);
    expect(err.status).toBe(502);
    expect(err.faultstring).toBe("Bad Gateway");
  });

  test("a 2xx answer is parsed JSON with headers", async () => {
    const res = await http.request("GET", `${fake.base}/ok`);
    expect(res.body).toEqual({ hello: "world" });
    expect(res.headers.get("content-type")).toContain("application/json");
  });

  test("a refused connection is status 0 'StackStorm unreachable at <host>'", async () => {
    const dead = fakeServer(() => new Response());
    const base = dead.base;
    dead.stop();
    const err = await http.request("GET", `${base}/api/v1/actionalias`, { headers: { "St2-Api-Key": SECRET } }).catch((e) => e);
    expect(err).toBeInstanceOf(St2ApiError);
    expect(err.status).toBe(0);
    expect(err.faultstring).toStartWith(`StackStorm unreachable at ${new URL(base).host}`);
    expect(err.message).not.toContain(SECRET);
    expect(isRetryable(err)).toBe(true);
  });

  test("a request that takes longer than the timeout fails with status 0", async () => {
    const quick = new St2Http({ timeoutMs: 100 });
    const err = await quick.request("GET", `${fake.base}/slow`).catch((e) => e);
    expect(err.status).toBe(0);
    expect(err.faultstring).toContain("did not answer within");
  });

  test("an injected fetch receives the request", async () => {
    const calls: string[] = [];
    const http2 = new St2Http({
      fetch: async (url, init) => {
        calls.push(`${init?.method} ${url}`);
        return jsonResponse(200, { ok: true });
      },
    });
    expect((await http2.request("GET", "http://st2.invalid/api/v1/x")).body).toEqual({ ok: true });
    expect(calls).toEqual(["GET http://st2.invalid/api/v1/x"]);
  });
});

describe("redirects", () => {
  const elsewhere = fakeServer(() => jsonResponse(200, { stolen: true }));
  const redirecting = fakeServer(() => new Response(null, { status: 302, headers: { Location: `${elsewhere.base}/api/v1/aliasexecution` } }));
  afterAll(() => {
    elsewhere.stop();
    redirecting.stop();
  });

  test("are never followed: the credential does not travel to the Location, the 3xx is an error", async () => {
    const http = new St2Http();
    for (const method of ["GET", "POST"]) {
      const err = await http
        .request(method, `${redirecting.base}/api/v1/aliasexecution`, { headers: { "St2-Api-Key": SECRET }, json: method === "POST" ? { a: 1 } : undefined })
        .catch((e) => e);
      expect(err).toBeInstanceOf(St2ApiError);
      expect(err.status).toBe(302);
    }
    expect(redirecting.seen.map((s) => s.method)).toEqual(["GET", "POST"]);
    expect(redirecting.seen[1]!.body).toEqual({ a: 1 });
    expect(elsewhere.seen).toEqual([]);
  });

  test("a body that cannot be sent as JSON is the caller's error, not an unreachable StackStorm", async () => {
    const http = new St2Http();
    for (const call of [() => http.request("POST", `${elsewhere.base}/x`, { json: { n: 1n } }), () => http.open("POST", `${elsewhere.base}/x`, { json: { n: 1n } })]) {
      const err = await call().catch((e) => e);
      expect(err).toBeInstanceOf(TypeError);
      expect(err).not.toBeInstanceOf(St2ApiError);
    }
  });
});

describe("TLS, per StackStorm request only", () => {
  let certs: TestCerts;
  const servers: Array<{ stop: (force?: boolean) => void }> = [];
  const serve = (tls: Record<string, unknown>) => {
    const s = Bun.serve({ port: 0, hostname: "127.0.0.1", tls, fetch: () => jsonResponse(200, { tls: true }) });
    servers.push(s);
    return `https://127.0.0.1:${s.port}`;
  };
  beforeAll(() => {
    certs = makeCerts();
  });
  afterAll(() => {
    for (const s of servers) s.stop(true);
    certs.cleanup();
  });
  const cfg = (extra: string) => parseConfig(`[stackstorm]\n${extra}`, "test.toml").stackstorm;

  test("verify_cert=false accepts a self-signed server; other fetches in the process still reject it", async () => {
    const url = serve({ cert: readFileSync(certs.selfCert, "utf8"), key: readFileSync(certs.selfKey, "utf8") });
    const strict = St2Http.fromConfig(cfg(""));
    const err = await strict.request("GET", `${url}/api/v1/`).catch((e) => e);
    expect(err.status).toBe(0);
    expect(err.faultstring).toContain("TLS certificate is not trusted");

    const lax = St2Http.fromConfig(cfg("verify_cert = false"));
    expect((await lax.request("GET", `${url}/api/v1/`)).body).toEqual({ tls: true });

    // The same process, the same server, right after: an ordinary fetch still refuses it.
    expect(await fetch(`${url}/other`).then(() => "accepted", (e) => e.code)).toBe("DEPTH_ZERO_SELF_SIGNED_CERT");
    expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).toBeUndefined();
  });

  test("ca_cert trusts a private CA", async () => {
    const url = serve({ cert: readFileSync(certs.serverCert, "utf8"), key: readFileSync(certs.serverKey, "utf8") });
    expect((await St2Http.fromConfig(cfg("")).request("GET", url).catch((e) => e)).status).toBe(0);
    const withCa = St2Http.fromConfig(cfg(`ca_cert = "${certs.caCert}"`));
    expect((await withCa.request("GET", url)).body).toEqual({ tls: true });
  });

  test("client_cert and client_key answer a server that requires mutual TLS", async () => {
    const url = serve({
      cert: readFileSync(certs.serverCert, "utf8"),
      key: readFileSync(certs.serverKey, "utf8"),
      ca: readFileSync(certs.caCert, "utf8"),
      requestCert: true,
      rejectUnauthorized: true,
    });
    const noCert = St2Http.fromConfig(cfg(`ca_cert = "${certs.caCert}"`));
    expect((await noCert.request("GET", url).catch((e) => e)).status).toBe(0);
    const mtls = St2Http.fromConfig(cfg(`ca_cert = "${certs.caCert}"\nclient_cert = "${certs.clientCert}"\nclient_key = "${certs.clientKey}"`));
    expect((await mtls.request("GET", url)).body).toEqual({ tls: true });
  });

  test("a missing certificate file is a ConfigError naming the key", () => {
    expect(() => St2Http.fromConfig(cfg(`ca_cert = "${certs.dir}/nope.pem"`))).toThrow(ConfigError);
    expect(() => St2Http.fromConfig(cfg(`ca_cert = "${certs.dir}/nope.pem"`))).toThrow("stackstorm.ca_cert");
    expect(() => St2Http.fromConfig(cfg(`client_cert = "${certs.clientCert}"`))).toThrow("go together");
  });
});
