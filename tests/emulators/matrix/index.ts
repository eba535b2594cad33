/**
 * A Matrix homeserver on the wire, for tests (none can be installed here): the client-server
 * v3 endpoints a bot uses, answering as the spec says. JSON everywhere; errors are
 * `{errcode, error}` (401 M_MISSING_TOKEN / M_UNKNOWN_TOKEN, 403 M_FORBIDDEN, 404 M_NOT_FOUND,
 * 429 M_LIMIT_EXCEEDED with `retry_after_ms` and a Retry-After header); /sync long-polls on a
 * stream position (`next_batch`); transaction ids are de-duplicated per device.
 * It can fail on demand: 429s, expired tokens, and dropped connections (a restart on the
 * same port). People act through `say`, `invite` and `createRoom`. Edits are events like any
 * other (`m.relates_to.rel_type = m.replace`); `current` shows a message as clients do after
 * applying its valid edits (same sender, same room, the original not itself an edit; latest wins).
 *
 * The pieces: homeserver.ts (state, what people do), client-api.ts (endpoints, faults),
 * sync.ts (/sync), wire.ts (fixtures, shapes, answers). This class adds the server and the
 * controls a test uses.
 */
import type { Server } from "bun";
import { ClientApi, Faults } from "./client-api.ts";
import { Homeserver } from "./homeserver.ts";
import type { Device, RoomFixture, UserFixture } from "./wire.ts";

export { SERVER_NAME, type MxEvent, type RoomFixture, type Sent, type UserFixture } from "./wire.ts";

export class MatrixEmulator extends Homeserver {
  /** Every request, `METHOD /path` (without the `/_matrix/client/v3` prefix). */
  readonly requests: string[] = [];
  private readonly faults = new Faults();
  private readonly api = new ClientApi(this, this.faults, this.requests, () => this.dropConnections());
  private server!: Server<undefined>;
  private port = 0;

  start(): this {
    this.listen();
    this.port = this.server.port!;
    return this;
  }

  /** The homeserver base URL (`matrix.homeserver`). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The next `n` requests to `endpoint` answer 429 M_LIMIT_EXCEEDED asking for `retryAfterMs`. */
  inject429(n: number, retryAfterMs = 1000, endpoint: "send" | "sync" | "any" = "send"): void {
    for (let i = 0; i < n; i++) this.faults.limits.push({ endpoint, retryAfterMs });
  }

  /** The next `n` sends are stored, but their answers break off mid-body (the client cannot know it worked). */
  loseAnswers(n: number): void {
    this.faults.lostAnswers += n;
  }

  /** Answers still to garble: /sync says 200 with a body that is no sync answer. */
  get garbledSyncs(): number {
    return this.faults.garbledSyncs;
  }
  set garbledSyncs(n: number) {
    this.faults.garbledSyncs = n;
  }

  /** The token stops working (M_UNKNOWN_TOKEN), as after a logout or an admin's revocation. */
  expireToken(token: string): void {
    this.tokens.delete(token);
  }

  /** Tokens the server has issued or knows, with their devices. */
  devices(): Array<Device & { token: string }> {
    return [...this.tokens].map(([token, d]) => ({ token, ...d }));
  }

  /** Every answer but /sync's is delayed by `ms` (0 turns it off): a homeserver that stalls. */
  slow(ms: number): void {
    this.faults.delayMs = ms;
  }

  /** Closes every connection (pending /sync long-polls included) and listens again on the same port. */
  async dropConnections(): Promise<void> {
    await this.server.stop(true);
    this.listen();
  }

  async stop(): Promise<void> {
    this.wake();
    await this.server.stop(true);
  }

  private listen(): void {
    this.server = Bun.serve({ hostname: "127.0.0.1", port: this.port, fetch: (req) => this.api.handle(req) });
  }
}

/** A started emulator whose bot is `bot` (a localpart of `users`). */
export function startMatrixEmulator(opts: { bot: string; users: UserFixture[]; rooms: RoomFixture[] }): MatrixEmulator {
  return new MatrixEmulator(opts.bot, opts.users, opts.rooms).start();
}
