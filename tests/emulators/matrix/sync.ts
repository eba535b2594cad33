/**
 * The Matrix emulator's /sync: everything after the client's stream position (`since`, as the
 * `s<pos>` tokens it handed out in `next_batch`), the full state on an initial sync, and a long
 * poll of up to `timeout` ms (at most 60 s) when there is nothing new.
 */
import type { Homeserver } from "./homeserver.ts";
import { err, json } from "./wire.ts";

/** Answers `GET /sync` for `me`, waiting for news until `timeout` or the client gives up. */
export async function sync(hs: Homeserver, me: string, url: URL, signal: AbortSignal): Promise<Response> {
  const sinceParam = url.searchParams.get("since");
  const since = sinceParam ? Number(sinceParam.replace(/^s/, "")) : undefined;
  if (sinceParam && !Number.isInteger(since)) return err(400, "M_INVALID_PARAM", "Invalid stream token");
  const timeout = Math.min(Number(url.searchParams.get("timeout") ?? 0), 60_000);
  const deadline = Date.now() + timeout;
  for (;;) {
    const answer = syncBody(hs, me, since);
    if (answer.news || Date.now() >= deadline || signal.aborted) return json(answer.body);
    await hs.news(deadline - Date.now());
  }
}

function syncBody(hs: Homeserver, me: string, since: number | undefined): { news: boolean; body: Record<string, unknown> } {
  const after = since ?? 0;
  const join: Record<string, unknown> = {};
  const invite: Record<string, unknown> = {};
  let news = false;
  for (const room of hs.rooms.values()) {
    if (room.invited.has(me)) {
      const invitedAt = room.timeline.findLast((t) => t.event.type === "m.room.member" && t.event.state_key === me)?.pos ?? 0;
      if (invitedAt > after) {
        news = true;
        const stripped = [...room.state.values()].filter((e) => e.type !== "m.room.member" || e.state_key === me);
        invite[room.id] = { invite_state: { events: stripped.map(({ type, sender, state_key, content }) => ({ type, sender, state_key, content })) } };
      }
    }
    if (!room.joined.has(me)) continue;
    // Events in /sync carry no room_id (the room is the key they are listed under).
    const fresh = room.timeline.filter((t) => t.pos > after).map(({ event: { room_id: _r, ...e } }) => e);
    if (since === undefined) {
      // Initial sync: the full state and the last few timeline events.
      join[room.id] = { state: { events: [...room.state.values()].map(({ room_id: _r, ...e }) => e) }, timeline: { events: fresh.slice(-10), limited: fresh.length > 10 }, ephemeral: { events: [] }, account_data: { events: [] } };
      news = true;
    } else if (fresh.length) {
      join[room.id] = { state: { events: [] }, timeline: { events: fresh, limited: false, prev_batch: `s${after}` }, ephemeral: { events: [] }, account_data: { events: [] } };
      news = true;
    }
  }
  const user = hs.users.get(me);
  const accountData = [...(user?.accountData ?? [])].filter(([type]) => since === undefined || (user!.adPos.get(type) ?? 0) > after).map(([type, content]) => ({ type, content }));
  if (accountData.length) news = true;
  const body = { next_batch: `s${hs.pos - 1}`, account_data: { events: accountData }, presence: { events: [] }, rooms: { join, invite, leave: {} } };
  return { news, body };
}
