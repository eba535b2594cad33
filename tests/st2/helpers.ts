/**
 * Shared pieces of the st2/ tests: log capture (to prove no secret leaks), throw-away TLS
 * certificates made with openssl, and a small Bun.serve fake for what the emulator cannot do.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { captureLogs as capture } from "../../src/lib/log.ts";
import { makeTempDir, removeTempDir } from "../support/tmp.ts";

/** Captures every log line until `restore()`. */
export function captureLogs(): { lines: string[]; text: () => string; restore: () => void } {
  const lines: string[] = [];
  const restore = capture((line) => lines.push(line));
  return { lines, text: () => lines.join("\n"), restore };
}

export interface TestCerts {
  dir: string;
  /** CA that signed server and client certificates. */
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A self-signed server certificate (no CA knows it). */
  selfCert: string;
  selfKey: string;
  cleanup: () => void;
}

function openssl(args: string[], cwd: string): void {
  const r = Bun.spawnSync(["openssl", ...args], { cwd, stderr: "pipe", stdout: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr.toString()}`);
}

/** A CA, a server certificate for 127.0.0.1 signed by it, a client certificate, and a self-signed one. */
export function makeCerts(): TestCerts {
  const dir = makeTempDir("tls");
  const days = ["-days", "2"];
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", ...days, "-subj", "/CN=st2bot test CA"], dir);
  writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"], dir);
  openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", ...days, "-extfile", "san.ext"], dir);
  writeFileSync(join(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=st2bot"], dir);
  openssl(["x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.pem", ...days, "-extfile", "client.ext"], dir);
  openssl(
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "self.key", "-out", "self.pem", ...days, "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
    dir,
  );
  const p = (f: string) => join(dir, f);
  return {
    dir,
    caCert: p("ca.pem"),
    serverCert: p("server.pem"),
    serverKey: p("server.key"),
    clientCert: p("client.pem"),
    clientKey: p("client.key"),
    selfCert: p("self.pem"),
    selfKey: p("self.key"),
    cleanup: () => removeTempDir(dir),
  };
}

/** One request a fake server saw. */
export interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: unknown;
}

/** A loopback HTTP server answering with `handler`, recording every request. */
export function fakeServer(handler: (req: Request, seen: Seen) => Response | Promise<Response>) {
  const seen: Seen[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const text = req.method === "GET" ? "" : await req.text();
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // keep the raw text
      }
      const entry = { method: req.method, path: url.pathname, query: url.searchParams, headers: req.headers, body };
      seen.push(entry);
      return handler(req, entry);
    },
  });
  const base = `http://127.0.0.1:${server.port}`;
  return {
    seen,
    base,
    urls: { api: `${base}/api/v1`, auth: `${base}/auth/v1`, stream: `${base}/stream/v1` },
    stop: () => server.stop(true),
  };
}

export const jsonResponse = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
