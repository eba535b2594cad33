/**
 * The Matrix backend (Gitter lives on Matrix too), over a small typed client for the
 * client-server API (api.ts). Receiving is a /sync long-poll whose `next_batch` is persisted
 * (state.ts), so a restart neither replays old messages nor misses new ones; sending is
 * `PUT /rooms/{id}/send/m.room.message/{txnId}` with a transaction id stable across retries of
 * one outbox message, so a retried send is never posted twice. Identity: `user` is `@name:server`,
 * `source_channel` is the room id `!id:server` (a direct chat's is the sender, `@name:server`).
 * Encrypted rooms are refused (rooms.ts).
 */
import { join } from "node:path";
import type { Config } from "../../config/schema.ts";
import { describeError, SendError } from "../../lib/errors.ts";
import { logger } from "../../lib/log.ts";
import { requireSection } from "../backend.ts";
import { ReconnectingLink } from "../link.ts";
import { LinkedBackend, type LinkDeps } from "../linked.ts";
import type { ChatBackend, Message, MessageRef, Outgoing, Target } from "../types.ts";
import { MatrixApi, MatrixError } from "./api.ts";
import { connectFailure, sendFailure } from "./errors.ts";
import { identityOf, readSync, type SyncBatch, toMessage } from "./events.ts";
import { asEdit, inThread, toContent } from "./format.ts";
import { ENCRYPTED_REFUSAL, RoomDirectory } from "./rooms.ts";
import { MatrixSession, type MatrixSettings } from "./session.ts";
import { matrix } from "./settings.ts";
import { StateFile } from "./state.ts";

const log = logger("chat.matrix");

/**
 * Characters of text per event. Matrix caps a whole event at 65,536 bytes of JSON; `body` and
 * `formatted_body` both carry the text (UTF-8, up to 3 bytes per UTF-16 unit, HTML escapes),
 * so 8,000 keeps the worst case under the cap; `send` still checks the real size.
 */
export const MAX_TEXT = 8000;
const MAX_EVENT_BYTES = 60_000;

const byteLength = (content: unknown) => new TextEncoder().encode(JSON.stringify(content)).length;

/** Only what the bot reads: no presence, only `m.direct`, enough timeline to bridge short gaps. */
const SYNC_FILTER = JSON.stringify({
  presence: { not_types: ["*"] },
  account_data: { types: ["m.direct"] },
  room: { timeline: { limit: 100 }, state: { lazy_load_members: true }, ephemeral: { not_types: ["*"] }, account_data: { not_types: ["*"] } },
});

/** Injectables for tests; every field has a production default. */
export interface MatrixDeps extends LinkDeps {
  fetch?: typeof fetch;
  /** Any single request but /sync (default 15 s). */
  requestTimeoutMs?: number;
  /** Where the sync state is kept (default `<bot.data_dir>/matrix-sync.json`). */
  stateFile?: string;
}

class MatrixBackend extends LinkedBackend implements ChatBackend {
  readonly name = "matrix";
  readonly maxMessageLength = MAX_TEXT;
  private readonly api: MatrixApi;
  private readonly session: MatrixSession;
  private readonly rooms: RoomDirectory;
  private readonly state: StateFile;
  protected readonly link: ReconnectingLink;
  private since?: string;
  /** Each connection's sync loop has a number; closing moves it on, so an old loop stops. */
  private generation = 0;
  private abort = new AbortController();
  private readonly refused = new Set<string>();
  private txnCounter = 0;

  constructor(private readonly cfg: MatrixSettings, private readonly botName: string, dataDir: string, deps: MatrixDeps) {
    super(log);
    this.api = new MatrixApi(cfg.homeserver, deps.fetch ?? fetch, deps.requestTimeoutMs ?? 15_000);
    this.state = new StateFile(deps.stateFile ?? join(dataDir, "matrix-sync.json"));
    this.session = new MatrixSession(this.api, cfg, this.state);
    this.rooms = new RoomDirectory(this.api, () => this.session.userId ?? cfg.user_id ?? "");
    const driver = { connect: () => this.connect(), close: async () => this.close() };
    this.link = new ReconnectingLink(driver, { log, ...(deps.backoff ? { backoff: deps.backoff } : {}) });
  }

  botNames(): string[] {
    const me = this.session.userId ?? this.cfg.user_id;
    const names = [this.botName];
    if (me) names.push(me, identityOf(me).nick);
    const display = me && this.rooms.displayName(me);
    if (display) names.push(display);
    return [...new Set(names)];
  }

  // ---- connection ----

  /** One attempt: session, direct chats, configured rooms, then a first /sync that answers at once. */
  private async connect(): Promise<string> {
    const me = await this.session.setUp();
    try {
      this.since ??= this.session.stored?.next_batch;
      const direct = await this.api.accountData(me, "m.direct").catch(() => undefined);
      if (direct) this.rooms.setDirect(Object.fromEntries(Object.entries(direct).filter(([, r]) => Array.isArray(r)) as [string, string[]][]));
      const failed = await this.joinConfigured();
      this.abort = new AbortController();
      const generation = ++this.generation;
      await this.handle(readSync(await this.firstSync(), me));
      void this.loop(generation);
      return failed.length ? `as ${me}; not in ${failed.join(", ")}` : `as ${me}`;
    } catch (err) {
      // A password bot whose token expired meanwhile logs in again; the link retries the attempt.
      if (await this.session.recover(err).catch(() => false)) throw new Error("the access token expired; logged in again");
      throw connectFailure(err, this.cfg.homeserver);
    }
  }

  /** /sync that answers at once; a position the server no longer knows is dropped (with a warning), not retried forever. */
  private async firstSync(): Promise<unknown> {
    try {
      return await this.api.sync(this.since, 0, SYNC_FILTER, this.abort.signal);
    } catch (err) {
      const stale = err instanceof MatrixError && err.status >= 400 && err.status < 500 && ![401, 403, 429].includes(err.status);
      if (!stale || this.since === undefined) throw err;
      log.warn("the homeserver no longer knows the stored sync position; starting from now (messages sent meanwhile are not run)", { error: describeError(err) });
      this.since = undefined;
      return this.api.sync(undefined, 0, SYNC_FILTER, this.abort.signal);
    }
  }

  private async close(): Promise<void> {
    this.generation++;
    this.abort.abort();
  }

  /** Joins every configured room (already joined is fine); the ones that failed, for status. */
  private async joinConfigured(): Promise<string[]> {
    const failed: string[] = [];
    for (const room of this.cfg.rooms) {
      try {
        const roomId = await this.api.join(room);
        if (room.startsWith("#")) this.rooms.rememberAlias(room, roomId);
      } catch (err) {
        log.error("cannot join a configured room", { room, error: describeError(err) });
        failed.push(room);
      }
    }
    return failed;
  }

  /** Long-polls /sync until this connection is closed or fails (then the link reconnects). */
  private async loop(generation: number): Promise<void> {
    while (generation === this.generation) {
      let body: unknown;
      try {
        body = await this.api.sync(this.since, this.cfg.sync_timeout_seconds, SYNC_FILTER, this.abort.signal);
      } catch (err) {
        if (generation !== this.generation) return;
        if (await this.session.recover(err).catch(() => false)) continue;
        this.link.dropped(`sync failed: ${describeError(err)}`);
        return;
      }
      if (generation !== this.generation) return;
      try {
        await this.handle(readSync(body, this.session.userId!));
      } catch (err) {
        // Through the link, so a server answering garbage at once is retried with backoff, not in a hot loop.
        this.link.dropped(`an unreadable /sync answer: ${describeError(err)}`);
        return;
      }
    }
  }

  // ---- incoming ----

  /** Acts on one /sync answer, then remembers where it ended. The very first sync (no `since`) is history: not run. */
  private async handle(batch: SyncBatch): Promise<void> {
    const history = this.since === undefined;
    const me = this.session.userId!;
    if (batch.direct) this.rooms.setDirect(batch.direct);
    for (const invite of batch.invites) await this.accept(invite);
    for (const room of batch.joined) {
      for (const e of room.events) {
        this.rooms.learn(room.roomId, e); // encryption switched on, aliases, display names
        if (history || e.sender === me) continue;
        if (e.type === "m.room.encrypted") await this.refuse(room.roomId);
        else this.dispatch(room.roomId, e);
      }
    }
    this.since = batch.nextBatch;
    this.state.save({ user_id: me, homeserver: this.cfg.homeserver, next_batch: batch.nextBatch, ...(this.session.deviceId ? { device_id: this.session.deviceId } : {}) });
  }

  private dispatch(roomId: string, e: SyncBatch["joined"][number]["events"][number]): void {
    const me = this.session.userId!;
    const direct = this.rooms.isDirect(roomId);
    const place = { roomId, roomName: this.rooms.nameOf(roomId), direct };
    this.deliver(toMessage(e, place, identityOf(e.sender, this.rooms.displayName(e.sender)), me, this.botNames()));
  }

  /** Joins a room the bot was invited to (when allowed); a direct chat is remembered as one. */
  private async accept(invite: SyncBatch["invites"][number]): Promise<void> {
    if (!this.cfg.join_on_invite) return;
    if (!invitationAllowed(invite.inviter, this.cfg.invite_from, this.session.userId!)) {
      log.warn("ignored an invitation from someone not in matrix.invite_from", { room: invite.roomId, inviter: invite.inviter ?? "?" });
      return;
    }
    try {
      await this.api.join(invite.roomId);
      log.info("joined a room on invitation", { room: invite.roomId, inviter: invite.inviter ?? "?", direct: invite.direct });
      if (invite.direct && invite.inviter) this.rooms.rememberDirect(invite.roomId, invite.inviter);
      if (invite.encrypted) {
        this.rooms.markEncrypted(invite.roomId);
        await this.refuse(invite.roomId);
      }
    } catch (err) {
      log.warn("cannot join a room it was invited to", { room: invite.roomId, error: describeError(err) });
    }
  }

  /** Says once per room (and run) why the bot will not answer there: it is encrypted. */
  private async refuse(roomId: string): Promise<void> {
    this.rooms.markEncrypted(roomId);
    if (this.refused.has(roomId)) return;
    this.refused.add(roomId);
    log.warn("an end-to-end encrypted room: st2bot will not read or answer there", { room: roomId });
    // Plain on purpose: the bot has no keys. Clients show it as unencrypted, which is the point.
    await this.api.send(roomId, "m.room.message", this.txnId(), { msgtype: "m.notice", body: `st2bot: ${ENCRYPTED_REFUSAL}.`, "m.mentions": {} }).catch((err) => {
      log.warn("cannot tell an encrypted room why the bot is silent", { room: roomId, error: describeError(err) });
    });
  }

  replyTarget(msg: Message): Target {
    if (msg.direct || !msg.room) return { kind: "user", id: msg.from.id, name: msg.from.id };
    return { kind: "room", id: msg.room.id, name: msg.room.name, ...(msg.thread ? { thread: msg.thread } : {}) };
  }

  /** The room id; in a direct chat, the sender (`@name:server`), as Slack's and Mattermost's DMs are. */
  sourceChannel(msg: Message): string {
    if (msg.direct || !msg.room) return msg.from.id;
    return msg.room.id;
  }

  // ---- outgoing ----

  async send(target: Target, msg: Outgoing): Promise<void> {
    await this.post(target, msg);
  }

  async post(target: Target, msg: Outgoing): Promise<MessageRef> {
    // The outbox's id is the same on every retry of this part, so the server posts it once.
    const txnId = msg.id ? `st2bot.${msg.id}` : this.txnId();
    return this.recovering(() => this.sendOnce(target, msg, txnId));
  }

  /** An `m.replace` edit of a message `post` sent (the thread stays the original's). */
  async edit(ref: MessageRef, msg: Outgoing): Promise<void> {
    const txnId = this.txnId();
    await this.recovering(async () => {
      await this.api.send(ref.room, "m.room.message", txnId, fitEvent(asEdit(toContent(msg), ref.id)));
    });
  }

  /** A password bot whose token expired logs in again and tries once more (same txn id). */
  private async recovering<T>(attempt: () => Promise<T>): Promise<T> {
    try {
      return await attempt();
    } catch (err) {
      if (!(await this.session.recover(err).catch(() => false))) throw sendFailure(err, "sending");
      return attempt().catch((again: unknown) => {
        throw sendFailure(again, "sending");
      });
    }
  }

  private async sendOnce(target: Target, msg: Outgoing, txnId: string): Promise<MessageRef> {
    const roomId = await this.rooms.roomFor(target);
    let content = toContent(msg);
    if (target.kind === "room" && target.thread) content = inThread(content, target.thread);
    return { room: roomId, id: await this.api.send(roomId, "m.room.message", txnId, fitEvent(content)) };
  }

  resolve(kind: "user" | "channel", value: string): Promise<Target> {
    return this.rooms.resolve(kind, value);
  }

  /** A transaction id for a send without an outbox id: unique per process and device. */
  private txnId(): string {
    return `st2bot.${Date.now().toString(36)}.${(this.txnCounter++).toString(36)}.${crypto.randomUUID().slice(0, 8)}`;
  }
}

/** The content, without its HTML copy when that makes the event too large; a SendError when even that is. */
function fitEvent(content: Record<string, unknown>): Record<string, unknown> {
  if (byteLength(content) <= MAX_EVENT_BYTES) return content;
  const { format: _f, formatted_body: _b, ...plain } = content;
  const inner = plain["m.new_content"] as Record<string, unknown> | undefined;
  if (inner) {
    const { format: _nf, formatted_body: _nb, ...plainInner } = inner;
    plain["m.new_content"] = plainInner;
  }
  if (byteLength(plain) > MAX_EVENT_BYTES) throw new SendError("Matrix: the message is larger than an event may be", false);
  return plain;
}

/** Is `inviter` allowed by `globs` (`*` any run of characters); no globs: the bot's own server. */
export function invitationAllowed(inviter: string | undefined, globs: readonly string[], me: string): boolean {
  if (!inviter) return false;
  const patterns = globs.length ? globs : [`@*:${me.split(":").slice(1).join(":")}`];
  return patterns.some((g) => new RegExp(`^${g.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`, "i").test(inviter));
}

/**
 * Builds the Matrix backend from `[matrix]` (homeserver; access token, or user id + password;
 * rooms). Throws ConfigError when settings are missing; `start` throws ConfigError when the
 * homeserver refuses the credentials, and otherwise keeps reconnecting until `stop`.
 */
export function createMatrixBackend(config: Config, deps: MatrixDeps = {}): ChatBackend {
  const section = requireSection(matrix, config);
  return new MatrixBackend({ ...section, homeserver: section.homeserver! }, config.bot.name, config.bot.data_dir, deps);
}
