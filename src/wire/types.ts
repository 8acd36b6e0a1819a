/**
 * The wire types every layer shares: a header field, a header list and a body chunk. They sit
 * below both `gateway/` (the interface) and `protocol/` (the wire rules), so neither has to
 * import the other to name a header.
 *
 * @module
 */

/** One header field as on the wire: `[name, value]`. Names arrive lowercased in environ. */
export type Header = [name: string, value: string];

/** An ordered list of header fields; order and duplicates are kept, as on the wire. */
export type HeaderList = Header[];

/** A body chunk. Strings are encoded as UTF-8 by the server. */
export type Chunk = Uint8Array | string;
