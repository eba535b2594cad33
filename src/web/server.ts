/**
 * The HTTP server (Elysia on Bun.serve): health, the webhook and the login API are plugins
 * mounted on one app. Every response, errors included, carries strict security headers and
 * every error body is JSON `{error: "..."}`. It binds loopback unless told otherwise, and serves
 * TLS itself (optionally requiring client certificates) so no nginx is needed in front.
 */
import { readFileSync } from "node:fs";
import { Elysia } from "elysia";
import type { Config } from "../config/schema.ts";
import { ConfigError } from "../lib/errors.ts";
import { logger } from "../lib/log.ts";

const log = logger("web.server");

/** Sent on every response. The login page's inline needs, if any, belong in its own plugin's CSP. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
};

/** The `[web]` settings and the route groups to serve. */
export interface ServerOptions {
  config: Config["web"];
  /** Route groups (webhook, login, metrics) mounted in order. */
  plugins?: Elysia<any, any, any, any, any, any, any>[];
}

/** The app and its socket: `listen()` once, `stop()` to close. */
export interface WebServer {
  /** The Elysia app, for in-process tests: `app.handle(new Request(...))`. */
  readonly app: Elysia<any, any, any, any, any, any, any>;
  /** Binds `config.host:config.port` (port 0: any free port) and resolves with the bound URL. */
  listen(): Promise<{ url: string; port: number }>;
  /** Stops accepting connections and closes open ones. */
  stop(): Promise<void>;
}

/** Plain-language text for Elysia's own error codes; nothing internal reaches the client. */
const ERROR_TEXT: Record<string, [number, string]> = {
  NOT_FOUND: [404, "not found"],
  PARSE: [400, "the request body could not be parsed"],
  VALIDATION: [400, "the request is invalid"],
  INVALID_COOKIE_SIGNATURE: [400, "invalid cookie"],
  INVALID_FILE_TYPE: [415, "unsupported file type"],
};

/** Builds the app: security headers, JSON errors, `GET /health`, then the plugins. */
export function createApp(plugins: ServerOptions["plugins"] = []): Elysia<any, any, any, any, any, any, any> {
  let app = new Elysia()
    .onRequest(({ set }) => {
      Object.assign(set.headers, SECURITY_HEADERS);
    })
    .onError(({ code, error, set }) => {
      Object.assign(set.headers, SECURITY_HEADERS);
      const known = ERROR_TEXT[String(code)];
      if (known) {
        set.status = known[0];
        return { error: known[1] };
      }
      const status = typeof (error as { status?: unknown }).status === "number" ? (error as { status: number }).status : 500;
      if (status >= 500) log.error("request failed", { code: String(code), error: String(error) });
      set.status = status;
      return { error: status >= 500 ? "internal error" : "request rejected" };
    })
    .get("/health", () => ({ status: "ok" }));
  for (const plugin of plugins) app = app.use(plugin);
  return app;
}

function readPem(path: string, key: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(`web.${key}: cannot read "${path}" (${code})`);
  }
}

/** TLS options for Bun.serve from the config, or undefined for plain HTTP. */
export function tlsOptions(config: Config["web"]): Bun.TLSOptions | undefined {
  if (!config.tls_cert || !config.tls_key) return undefined;
  const tls: Bun.TLSOptions = { cert: readPem(config.tls_cert, "tls_cert"), key: readPem(config.tls_key, "tls_key") };
  if (config.tls_client_ca) {
    tls.ca = readPem(config.tls_client_ca, "tls_client_ca");
    tls.requestCert = true;
    tls.rejectUnauthorized = true;
  }
  return tls;
}

const peers = new WeakMap<Request, string>();

/** The address of the client that sent `request` over a real socket (undefined in-process). */
export function peerAddress(request: Request): string | undefined {
  return peers.get(request);
}

/** The server: the app plus listen/stop on Bun.serve. */
export function createServer(opts: ServerOptions): WebServer {
  const app = createApp(opts.plugins);
  let server: ReturnType<typeof Bun.serve> | undefined;
  return {
    app,
    async listen() {
      if (server) throw new Error("the web server is already listening");
      const tls = tlsOptions(opts.config);
      server = Bun.serve({
        hostname: opts.config.host ?? "127.0.0.1",
        port: opts.config.port ?? 8888,
        tls,
        fetch: (request, srv) => {
          const ip = srv.requestIP(request)?.address;
          if (ip) peers.set(request, ip);
          return app.handle(request);
        },
        error: () => new Response(JSON.stringify({ error: "internal error" }), { status: 500, headers: { ...SECURITY_HEADERS, "content-type": "application/json" } }),
      });
      const url = `${tls ? "https" : "http"}://${server.hostname}:${server.port}`;
      log.info("web server listening", { url, clientCertificates: Boolean(tls?.requestCert) });
      return { url, port: server.port! };
    },
    async stop() {
      await server?.stop(true);
      server = undefined;
    },
  };
}
