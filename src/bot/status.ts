/**
 * The live state `!status`, `!about` and `/metrics` read, as interfaces: app.ts wires the real
 * parts (chat backend, StackStorm client, stream, outbox), so neither bot/ nor web/ imports them.
 */
import type { BackendStatus } from "../chat/types.ts";

/** A component's state for `!status`, e.g. `{state: "connected"}` or `{state: "error", detail: "HTTP 503"}`. */
export interface ComponentState {
  state: string;
  detail?: string;
}

/** The outbox's counts (delivery/'s `OutboxStats` has this shape; bot/ does not import delivery/). */
export interface OutboxCounts {
  /** Accepted and neither confirmed nor dead. */
  pending: number;
  dead: number;
  /** Confirmed and deleted since the outbox was created. */
  delivered: number;
  /** Failed send attempts since the outbox was created (rate-limit waits excluded). */
  failedAttempts: number;
}

/** Where `!status`, `!about` and `/metrics` read the live state of the bot. */
export interface StatusSource {
  version: string;
  /** Epoch milliseconds. */
  startedAt: number;
  chat(): BackendStatus;
  st2(): ComponentState;
  /** How many action aliases are cached. */
  aliases(): number;
  stream(): ComponentState;
  outbox(): OutboxCounts;
  /** Cluster mode only (`[cluster]`): this instance's role and lease. */
  cluster?(): ClusterState;
}

/** One instance's view of the cluster (src/cluster/). */
export interface ClusterState {
  instance: string;
  role: "leader" | "standby";
  /** The fencing number of this instance's lease (0 before it ever led). */
  fence: number;
  /** Milliseconds since Redis last confirmed the lease (leader only). */
  leaseAgeMs?: number;
  /** Instances seen alive within three leases, this one included. */
  peers?: number;
  redisDown: boolean;
  /** Stream announcements spooled locally while Redis was unreachable. */
  spooled: number;
}
