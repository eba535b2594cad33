/**
 * A StackStorm that answers like the real one, for `st2bot demo`, the tests and the benchmarks:
 * auth, action aliases, alias executions with announced results, inquiries and the event stream,
 * on 127.0.0.1, plus switches to make it misbehave (errors, stalls, dropped streams, expired
 * tokens, refused connections, garbage on the stream).
 *
 *   const st2 = await startEmulator({ aliases: sampleAliases, actions: sampleActions });
 *   // point st2bot at st2.apiUrl / st2.authUrl / st2.streamUrl
 *   await st2.stop();
 */
import type { Server } from "bun";
import { logger } from "../lib/log.ts";
import { findCredential } from "./auth.ts";
import { Executions } from "./executions.ts";
import { Fault, faultResponse, readBody } from "./http.ts";
import { Routes, type Call } from "./routes.ts";
import { EmulatorState } from "./state.ts";
import { StreamHub } from "./stream.ts";
import type { ActionSpec, AliasInput, EmulatedExecution, EmulatorOptions, InquirySpec, IssuedToken, RecordedRequest, StoredAlias } from "./types.ts";

export type * from "./types.ts";

const log = logger("emulator");

/** Switches that make the emulator fail the way a real StackStorm (or its network) does. */
export interface Faults {
  /** The next `count` requests (under `pathPrefix`, if given) answer `status` with `faultstring`. */
  failNext(count: number, opts?: { status?: number; faultstring?: string; pathPrefix?: string }): void;
  /** Delays every answer (under `pathPrefix`) by `ms`, for `count` requests or until `stall(0)`. */
  stall(ms: number, opts?: { count?: number; pathPrefix?: string }): void;
  /** Ends every open stream connection; clients see the response finish. */
  dropStreams(): void;
  /** Every token issued so far becomes expired: requests carrying one get 401. */
  expireTokens(): void;
  /** `true` stops listening and cuts open connections (clients get connection errors); `false` listens again on the same port. */
  down(isDown: boolean): Promise<void>;
  /** Writes raw bytes to every open stream. */
  streamGarbage(text: string): void;
  /** Clears failNext and stall. */
  reset(): void;
}

export interface Emulator {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly apiUrl: string;
  readonly authUrl: string;
  readonly streamUrl: string;
  readonly port: number;
  /** Every request received, in order, with its credential and answer status. */
  readonly requests: RecordedRequest[];
  /** Executions created, oldest first. */
  readonly executions: EmulatedExecution[];
  /** Tokens issued. */
  readonly tokens: IssuedToken[];
  readonly aliases: readonly StoredAlias[];
  readonly faults: Faults;
  /** Open stream connections. */
  readonly streamCount: number;
  setAliases(aliases: AliasInput[]): void;
  /** Registers (or replaces) an action, e.g. one that prints output over time. */
  addAction(action: ActionSpec): void;
  /** Adds an alias and publishes `st2.actionalias__create`. */
  addAlias(alias: AliasInput): StoredAlias;
  /** Replaces an alias (same id, else same pack.name) and publishes `st2.actionalias__update`. */
  updateAlias(alias: AliasInput): StoredAlias;
  /** Removes an alias by ref or id and publishes `st2.actionalias__delete`. */
  deleteAlias(refOrId: string): StoredAlias;
  /** Issues a token as `POST /auth/v1/tokens` would, without a request. */
  createToken(user: string, ttlSeconds?: number): IssuedToken;
  /** Publishes a raw stream event. */
  publish(event: string, data: unknown): void;
  /** Publishes `st2.announcement__<route>` with `{payload}`, as `chatops.post_message` does. */
  announce(route: string, payload: Record<string, unknown>): void;
  /** Creates a pending inquiry (and its `st2.execution__create` event); returns its id. */
  createInquiry(spec?: InquirySpec): string;
  /** Resolves once no execution is waiting to complete. */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

interface FailRule {
  remaining: number;
  status: number;
  faultstring: string;
  pathPrefix?: string;
}

interface StallRule {
  ms: number;
  remaining: number;
  pathPrefix?: string;
}

/** Starts an emulator on 127.0.0.1 (port 0 = any free port). */
export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const state = new EmulatorState(opts);
  const hub = new StreamHub(opts.heartbeatMs ?? 25_000);
  const requests: RecordedRequest[] = [];
  let baseUrl = "";
  const executions = new Executions(state, hub, () => opts.webuiUrl ?? baseUrl);
  const routes = new Routes(state, executions, hub, opts);
  const fails: FailRule[] = [];
  let stallRule: StallRule | undefined;
  const quiet = opts.quiet ?? true;

  const serve = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    opts.onArrival?.(req.method, url.pathname);
    const query = Object.fromEntries(url.searchParams);
    const parsed = req.method === "GET" || req.method === "HEAD" ? { body: undefined } : await readBody(req);
    const credential = findCredential(req, query);
    const headers: Record<string, string> = {};
    req.headers.forEach((value, key) => (headers[key] = value));
    const record: RecordedRequest = {
      method: req.method,
      path: url.pathname,
      query,
      headers,
      body: parsed.body,
      credential,
      at: new Date(),
    };
    requests.push(record);
    try {
      opts.onRequest?.(record);
    } catch (err) {
      log.warn("onRequest hook failed", { error: err });
    }
    const response = await answer(record, { ...parsed, authorization: req.headers.get("authorization") });
    record.status = response.status;
    if (!quiet) log.info(`${record.method} ${record.path} → ${response.status}`);
    return response;
  };

  const answer = async (record: RecordedRequest, parsed: { body: unknown; error?: string; authorization: string | null }): Promise<Response> => {
    const under = (prefix?: string) => !prefix || record.path.startsWith(prefix);
    if (stallRule && stallRule.remaining > 0 && under(stallRule.pathPrefix)) {
      stallRule.remaining--;
      await Bun.sleep(stallRule.ms);
    }
    const fail = fails.find((f) => f.remaining > 0 && under(f.pathPrefix));
    if (fail) {
      fail.remaining--;
      return faultResponse(new Fault(fail.status, fail.faultstring));
    }
    const call: Call = {
      method: record.method,
      path: record.path,
      query: record.query,
      body: parsed.body,
      bodyError: parsed.error,
      authorization: parsed.authorization,
      credential: record.credential,
    };
    try {
      return await routes.handle(call);
    } catch (err) {
      if (err instanceof Fault) return faultResponse(err);
      log.error("emulator route failed", { error: err });
      return faultResponse(new Fault(500, "Internal Server Error"));
    }
  };

  const listen = (port: number): Server<undefined> =>
    Bun.serve({ hostname: "127.0.0.1", port, idleTimeout: 0, fetch: serve });

  let server: Server<undefined> | undefined = listen(opts.port ?? 0);
  const port = server.port!;
  baseUrl = `http://127.0.0.1:${port}`;

  const publishAlias = (what: string, alias: StoredAlias) => hub.publish(`st2.actionalias__${what}`, alias);

  const faults: Faults = {
    failNext(count, o = {}) {
      fails.push({ remaining: count, status: o.status ?? 500, faultstring: o.faultstring ?? "Internal Server Error", pathPrefix: o.pathPrefix });
    },
    stall(ms, o = {}) {
      stallRule = ms > 0 ? { ms, remaining: o.count ?? Number.POSITIVE_INFINITY, pathPrefix: o.pathPrefix } : undefined;
    },
    dropStreams: () => hub.dropAll(),
    expireTokens: () => state.expireTokens(),
    async down(isDown) {
      if (isDown && server) {
        hub.dropAll();
        await server.stop(true);
        server = undefined;
      } else if (!isDown && !server) {
        server = listen(port);
      }
    },
    streamGarbage: (text) => hub.garbage(text),
    reset() {
      fails.length = 0;
      stallRule = undefined;
    },
  };

  return {
    url: baseUrl,
    apiUrl: `${baseUrl}/api/v1`,
    authUrl: `${baseUrl}/auth/v1`,
    streamUrl: `${baseUrl}/stream/v1`,
    port,
    requests,
    executions: state.executions,
    tokens: state.tokens,
    get aliases() {
      return state.aliases;
    },
    get streamCount() {
      return hub.size;
    },
    faults,
    setAliases: (aliases) => void state.setAliases(aliases),
    addAction: (action) => void state.actions.set(action.ref, action),
    addAlias(alias) {
      const stored = state.addAlias(alias);
      publishAlias("create", stored);
      return stored;
    },
    updateAlias(alias) {
      const stored = state.updateAlias(alias);
      publishAlias("update", stored);
      return stored;
    },
    deleteAlias(refOrId) {
      const removed = state.deleteAlias(refOrId);
      publishAlias("delete", removed);
      return removed;
    },
    createToken: (user, ttl) => state.issueToken(user, ttl ?? opts.maxTokenTtl ?? 86400),
    publish: (event, data) => hub.publish(event, data),
    announce: (route, payload) => executions.announce(route, payload),
    createInquiry: (spec = {}) => executions.createInquiry(spec).id,
    async settled() {
      while (state.executions.some((e) => e.status === "requested")) await Bun.sleep(5);
    },
    async stop() {
      executions.cancelAll();
      hub.dropAll();
      await server?.stop(true);
      server = undefined;
    },
  };
}
