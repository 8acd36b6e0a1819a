/**
 * Which protocol a new connection speaks, decided from its first bytes (sans-IO). One port
 * serves TLS, cleartext HTTP/2 with prior knowledge and HTTP/1.1: a TLS record starts with
 * the handshake content type, an h2c connection with the 24-byte connection preface
 * (RFC 9113 §3.4), and anything else is an HTTP/1.1 request line.
 */

/** The HTTP/2 client connection preface, RFC 9113 §3.4. */
export const H2_PREFACE: Uint8Array = new TextEncoder().encode('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

// RFC 8446 §5.1: ContentType.handshake; every TLS connection opens with a ClientHello record.
const TLS_HANDSHAKE = 0x16;

// "PRI" is reserved (RFC 9113 §3.4, §11.6): a connection that starts with it and then leaves
// the preface is a broken or hostile HTTP/2 client, never an HTTP/1.1 request.
const PRI_LENGTH = 3;

/**
 * What the first bytes say:
 * - `tls`: a TLS ClientHello; the handshake (ALPN) decides between h2 and http/1.1;
 * - `h2`: the complete HTTP/2 preface (prior knowledge, RFC 9113 §3.3);
 * - `http1`: anything that cannot be the preface;
 * - `more`: a proper prefix of the preface (or nothing yet): wait for more bytes;
 * - `reject`: starts with `PRI` but is not the preface.
 */
export type FirstBytes = 'tls' | 'h2' | 'http1' | 'more' | 'reject';

/** Classifies the bytes received so far on a new connection. */
export function classifyFirstBytes(bytes: Uint8Array): FirstBytes {
  if (bytes.length === 0) return 'more';
  if (bytes[0] === TLS_HANDSHAKE) return 'tls';
  const n = Math.min(bytes.length, H2_PREFACE.length);
  for (let i = 0; i < n; i++) {
    if (bytes[i] !== H2_PREFACE[i]) return i < PRI_LENGTH ? 'http1' : 'reject';
  }
  return bytes.length >= H2_PREFACE.length ? 'h2' : 'more';
}
