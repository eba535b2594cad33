/**
 * The chat backend as the cluster's leader uses it: every send first checks the lease
 * (`maySend`: held, and confirmed by Redis within the lease minus the safety margin). A leader
 * that was paused past its lease finds out here, before the message leaves, and steps down;
 * the message stays unacknowledged in Redis for the next leader.
 *
 * What this cannot close: a pause between the check and the bytes reaching the chat service
 * (chat services take no fencing token). The safety margin is there for exactly that window.
 */
import type { ChatBackend, MessageHandler, Outgoing, Target } from "../chat/types.ts";
import { SendError } from "../lib/errors.ts";

/** What the fence needs of the lease. */
export interface Fence {
  maySend(): boolean;
  /** Told when a send was refused: the lease ran out locally. */
  expired(): void;
}

/** Wraps `inner` so that nothing is sent without a valid lease (see the file comment). */
export function fencedBackend(inner: ChatBackend, fence: Fence): ChatBackend {
  const refuse = () => {
    fence.expired();
    return new SendError("this instance is not the cluster's leader (any more): not sent", true, 60_000);
  };
  return {
    get name() {
      return inner.name;
    },
    get maxMessageLength() {
      return inner.maxMessageLength;
    },
    get sendRate() {
      return inner.sendRate;
    },
    get overallSendRate() {
      return inner.overallSendRate;
    },
    start: (onMessage: MessageHandler) => inner.start(onMessage),
    stop: () => inner.stop(),
    status: () => inner.status(),
    botNames: () => inner.botNames(),
    send: async (target: Target, msg: Outgoing) => {
      if (!fence.maySend()) throw refuse();
      await inner.send(target, msg);
    },
    resolve: (kind, value) => inner.resolve(kind, value),
    replyTarget: (msg) => inner.replyTarget(msg),
    sourceChannel: (msg) => inner.sourceChannel(msg),
    escape: inner.escape ? (text: string) => inner.escape!(text) : undefined,
  };
}
