/**
 * Inquiries from the StackStorm stream into chat: each pending inquiry is announced once, in
 * the places `inquiryTargets` names, with its id in the short form that is unique among the
 * inquiries this bot knows to be pending. Every inquiry not announced is logged at debug level
 * with the reason, so an operator can see why a question never reached chat.
 */
import { logger } from "../../lib/log.ts";
import type { St2Event } from "../../st2/stream.ts";
import { announceInquiry, INQUIRY_EVENTS, readInquiryEvent, type AnnounceOptions, type InquiryAnnouncement } from "./announce.ts";
import { shortId } from "./ids.ts";

const log = logger("bot.inquiries");

/** What app.ts hands over: announcement options plus the durable send. */
export interface WireInquiriesOptions extends AnnounceOptions {
  /** Sends the announcement durably (the outbox). */
  enqueue(announcement: InquiryAnnouncement): void;
}

/** The two hooks app.ts needs. */
export interface InquiryWiring {
  /** Event names to add to the stream's `extraEvents`. */
  events: string[];
  /**
   * Handles one stream event; true when it was an execution event (announced or not), so the
   * caller can stop there. Each inquiry is announced once, however many `pending` updates come.
   */
  onEvent(event: St2Event): boolean;
}

/** Inquiries remembered (announced, or pending); older ones are forgotten first (a bound on memory). */
const MAX_REMEMBERED = 1000;

/** The event names to subscribe to and the handler that announces pending inquiries. */
export function wireInquiries(opts: WireInquiriesOptions): InquiryWiring {
  const announced = new Set<string>();
  // Pending inquiries seen on the stream: the ids a shown short id must not be confused with.
  const pending = new Set<string>();
  const remember = (set: Set<string>, id: string) => {
    set.add(id);
    if (set.size > MAX_REMEMBERED) set.delete(set.values().next().value!);
  };
  return {
    events: INQUIRY_EVENTS,
    onEvent(event) {
      if (!INQUIRY_EVENTS.includes(event.name)) return false;
      const read = readInquiryEvent(event);
      if (read.kind === "skip") {
        if (read.id) pending.delete(read.id);
        // Other executions are not inquiries: only inquiries are worth a line.
        if (read.why !== "not an inquiry" && read.id) log.debug("inquiry not announced", { id: read.id, why: read.why });
        return true;
      }
      const id = read.inquiry.id;
      remember(pending, id);
      if (announced.has(id)) {
        log.debug("inquiry not announced", { id, why: "it was announced already" });
        return true;
      }
      const out = announceInquiry(event, opts, (shown) => shortId(shown, pending));
      if (out.kind === "skip") {
        // A later update may still name its chat place, so it is not marked as announced.
        log.debug("inquiry not announced", { id, route: read.inquiry.route, why: out.why });
        return true;
      }
      remember(announced, id);
      for (const message of out.messages) opts.enqueue(message);
      log.debug("inquiry announced", { id, route: read.inquiry.route, places: out.messages.length });
      return true;
    },
  };
}
