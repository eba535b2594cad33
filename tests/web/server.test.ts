import { beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { WebSchema } from "../../src/config/schema.ts";
import { ConfigError } from "../../src/lib/errors.ts";
import { setLogSink } from "../../src/lib/log.ts";
import { createServer, HSTS, SECURITY_HEADERS } from "../../src/web/server.ts";
import { tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();

setLogSink(() => {});
const web = (extra: Record<string, unknown> = {}) => v.parse(WebSchema, { port: 0, ...extra });

describe("in-process app", () => {
  const { app } = createServer({ config: web() });

  test("GET /health answers ok with every security header", async () => {
    const res = await app.handle(new Request("http://localhost/health"));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(res.headers.get(name)).toBe(value);
    expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
  });

  test("GET /favicon.ico is an empty 204, so browsers log no 404 on the login page", async () => {
    const res = await app.handle(new Request("http://localhost/favicon.ico"));
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
  });

  test("an unknown route is a JSON 404 with the same headers", async () => {
    const res = await app.handle(new Request("http://localhost/nothing-here"));
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "not found" });
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
  });
});

describe("listen", () => {
  test("binds 127.0.0.1 by default and serves plain HTTP", async () => {
    const server = createServer({ config: web() });
    try {
      const { url } = await server.listen();
      expect(url).toStartWith("http://127.0.0.1:");
      const res = await fetch(`${url}/health`);
      expect(res.status).toBe(200);
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      // HSTS over plain HTTP means nothing (and a proxy in front sets its own): not sent.
      expect(res.headers.get("strict-transport-security")).toBeNull();
    } finally {
      await server.stop();
    }
  });

  test("a missing certificate file is a clear config error", async () => {
    const server = createServer({ config: web({ tls_cert: "/nonexistent/cert.pem", tls_key: "/nonexistent/key.pem" }) });
    await expect(server.listen()).rejects.toThrow(ConfigError);
    await expect(server.listen()).rejects.toThrow('web.tls_cert: cannot read "/nonexistent/cert.pem" (ENOENT)');
  });
});

describe("TLS", () => {
  let dir: string;
  const file = (name: string) => join(dir, name);
  const pem = (name: string) => readFileSync(file(name), "utf8");
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

  /** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, all signed by it. */
  beforeAll(() => {
    dir = tmp("tls");
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=st2bot test CA");
    writeFileSync(file("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    for (const who of ["server", "client"]) {
      openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${who}.key`, "-out", `${who}.csr`, "-subj", `/CN=${who}`);
      const ext = who === "server" ? ["-extfile", "server.ext"] : [];
      openssl("x509", "-req", "-in", `${who}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${who}.pem`, "-days", "1", ...ext);
    }
    // A second CA whose client certificates the server must refuse.
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.pem", "-days", "1", "-subj", "/CN=intruder");
  });

  test("serves HTTPS itself with the configured certificate", async () => {
    const server = createServer({ config: web({ tls_cert: file("server.pem"), tls_key: file("server.key") }) });
    try {
      const { url } = await server.listen();
      expect(url).toStartWith("https://127.0.0.1:");
      const res = await fetch(`${url}/health`, { tls: { ca: pem("ca.pem") } });
      expect(await res.json()).toEqual({ status: "ok" });
      // HSTS on every answer, errors included, once st2bot itself terminates TLS.
      expect(res.headers.get("strict-transport-security")).toBe(HSTS);
      const missing = await fetch(`${url}/nothing-here`, { tls: { ca: pem("ca.pem") } });
      expect(missing.status).toBe(404);
      expect(missing.headers.get("strict-transport-security")).toBe(HSTS);
      // A client that does not trust the CA refuses the connection.
      await expect(fetch(`${url}/health`)).rejects.toThrow();
    } finally {
      await server.stop();
    }
  });

  test("with tls_client_ca, only clients with a certificate from that CA get in", async () => {
    const server = createServer({
      config: web({ tls_cert: file("server.pem"), tls_key: file("server.key"), tls_client_ca: file("ca.pem") }),
    });
    try {
      const { url } = await server.listen();
      const ok = await fetch(`${url}/health`, { tls: { ca: pem("ca.pem"), cert: pem("client.pem"), key: pem("client.key") } });
      expect(ok.status).toBe(200);
      await expect(fetch(`${url}/health`, { tls: { ca: pem("ca.pem") } })).rejects.toThrow();
      await expect(
        fetch(`${url}/health`, { tls: { ca: pem("ca.pem"), cert: pem("other.pem"), key: pem("other.key") } }),
      ).rejects.toThrow();
    } finally {
      await server.stop();
    }
  });
});
