/**
 * The slice of @xmpp/client 0.14 that st2bot uses. The package ships no type declarations;
 * declaring its module once here lets the backend and its tests import it typed, without casts.
 */
declare module "@xmpp/client" {
  /** An XML element as @xmpp/xml (ltx) builds and parses it. */
  export interface XmlElement {
    name: string;
    attrs: Record<string, string | undefined>;
    children: Array<XmlElement | string>;
    is(name: string, xmlns?: string): boolean;
    getChild(name: string, xmlns?: string): XmlElement | undefined;
    getChildren(name: string, xmlns?: string): XmlElement[];
    getChildText(name: string, xmlns?: string): string | null;
    getText(): string;
  }

  /** A child for `xml()`: `undefined` and `false` are skipped, so optional children read inline. */
  export type XmlChild = XmlElement | string | undefined | false;

  /** Builds an element; text children are escaped by the builder, never concatenated as markup. */
  export function xml(name: string, attrs?: Record<string, string> | null, ...children: XmlChild[]): XmlElement;

  export interface XmppClientOptions {
    /** `xmpp://host:port`, `xmpps://…`, or a domain whose SRV records name the server. */
    service: string;
    domain: string;
    username: string;
    password: string;
    resource: string;
  }

  /** The events the client emits, with their listeners' arguments. */
  export interface XmppClientEvents {
    online: () => void;
    stanza: (stanza: XmlElement) => void;
    /** `err.name` tells them apart: `SASLError`, `StreamError`, `TimeoutError`, ... */
    error: (err: unknown) => void;
    disconnect: (info?: { clean?: boolean; reason?: unknown }) => void;
  }

  /** The @xmpp/client entity (a connection plus its negotiation modules). */
  export interface XmppClient {
    /** `offline`, `connecting`, `connect`, `opening`, `open`, `online`, `disconnect`, ... */
    status: string;
    options: { domain?: string; lang?: string };
    on<E extends keyof XmppClientEvents>(event: E, listener: XmppClientEvents[E]): void;
    removeListener<E extends keyof XmppClientEvents>(event: E, listener: XmppClientEvents[E]): void;
    /** Connects, authenticates and binds (resolves once `online`); reconnects on its own after. */
    start(): Promise<void>;
    connect(service: string): Promise<void>;
    open(opts: { domain?: string; lang?: string }): Promise<unknown>;
    send(element: XmlElement): Promise<void>;
    stop(): Promise<unknown>;
    disconnect(): Promise<unknown>;
    reconnect: { stop(): void };
    iqCaller: { request(stanza: XmlElement, timeoutMs?: number): Promise<XmlElement> };
    /** XEP-0198; `resumed` replaces `online` when a dropped session is resumed. */
    streamManagement?: XmppStreamManagement;
  }

  /** XEP-0198 stream management: `ack`/`fail` carry the very element given to `send`. */
  export interface XmppStreamManagement {
    /** True once the server enabled (or resumed) stream management on this session. */
    enabled: boolean;
    /** True from the `<enable/>` on: stanzas sent since then are counted and acked. */
    enableSent: boolean;
    /** Milliseconds after a burst of stanzas before an ack is requested. */
    requestAckDebounce: number;
    on(event: "resumed", listener: () => void): void;
    on(event: "ack" | "fail", listener: (stanza: XmlElement) => void): void;
    removeListener(event: "resumed", listener: () => void): void;
  }

  export function client(options: XmppClientOptions): XmppClient;
}
