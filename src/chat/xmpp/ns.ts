/** The XML namespaces of the XMPP extensions this backend speaks. */
export const NS = {
  muc: "http://jabber.org/protocol/muc",
  mucUser: "http://jabber.org/protocol/muc#user",
  mucOwner: "http://jabber.org/protocol/muc#owner",
  dataForms: "jabber:x:data",
  delay: "urn:xmpp:delay",
  legacyDelay: "jabber:x:delay",
  conference: "jabber:x:conference",
  xhtmlIm: "http://jabber.org/protocol/xhtml-im",
  xhtml: "http://www.w3.org/1999/xhtml",
  ping: "urn:xmpp:ping",
  stanzas: "urn:ietf:params:xml:ns:xmpp-stanzas",
} as const;
