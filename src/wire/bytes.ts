/**
 * Byte helpers that need no `Buffer`, so the interface loads on every JavaScript runtime
 * (Node, Bun, Deno, workerd without Node compatibility; docs/RUNTIMES.md). Where the runtime
 * has Node's `Buffer` (Node, Bun, Deno) the native call is used, so Node's hot paths stay
 * exactly as fast as before; elsewhere a portable equivalent gives the same bytes.
 *
 * @module
 */

/** Node's `Buffer` where the runtime has one (read off `globalThis`, so nothing fails where it is absent). */
const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;

/** The UTF-8 length of `text` in JavaScript: what `Buffer.byteLength` and `TextEncoder` count (a lone surrogate is U+FFFD, 3 bytes). */
export function portableUtf8Length(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      i++; // a surrogate pair: 2 UTF-16 units, 4 bytes
      n += 2;
    } else n += 2;
  }
  return n;
}

/** The UTF-8 length of `text`: `Buffer.byteLength` where there is a `Buffer` (native), else {@link portableUtf8Length}. */
export const utf8Length: (text: string) => number = NodeBuffer === undefined ? portableUtf8Length : (text) => NodeBuffer.byteLength(text);

/**
 * `bytes` as a `Buffer` over the same memory where there is a `Buffer` (what Node hosts and
 * sinks have always been handed, `toString()` and all), else `bytes` itself.
 */
export function bytesView(bytes: Uint8Array): Uint8Array {
  return NodeBuffer === undefined ? bytes : NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A copy of `bytes` (a `Buffer` where there is a `Buffer`). */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return NodeBuffer === undefined ? Uint8Array.prototype.slice.call(bytes) : NodeBuffer.from(bytes);
}

/** `parts` joined into a new byte array (`Buffer.concat` where there is a `Buffer`). */
export function concat(parts: readonly Uint8Array[], total?: number): Uint8Array {
  if (NodeBuffer !== undefined) return NodeBuffer.concat(parts, total);
  if (parts.length === 0) return new Uint8Array(0); // whatever the total, as Buffer.concat
  let length = total;
  if (length === undefined) {
    length = 0;
    for (const part of parts) length += part.byteLength;
  }
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    if (offset + part.byteLength > length) {
      out.set(part.subarray(0, length - offset), offset);
      break;
    }
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** True when the `length` bytes of `haystack` at `at` are the first `length` of `needle`. */
export function matchesAt(haystack: Uint8Array, at: number, needle: Uint8Array, length = needle.byteLength): boolean {
  for (let i = 0; i < length; i++) if (haystack[at + i] !== needle[i]) return false;
  return true;
}

/** True when `needle` (not empty) occurs in `haystack`: `Buffer#indexOf` where there is a `Buffer` (native, ~10× the portable loop on 16 KiB). */
export const includesBytes: (haystack: Uint8Array, needle: Uint8Array) => boolean =
  NodeBuffer === undefined
    ? (haystack, needle) => {
        const last = haystack.byteLength - needle.byteLength;
        for (let p = haystack.indexOf(needle[0]!); p !== -1 && p <= last; p = haystack.indexOf(needle[0]!, p + 1)) if (matchesAt(haystack, p, needle)) return true;
        return false;
      }
    : (haystack, needle) => (NodeBuffer.isBuffer(haystack) ? haystack : NodeBuffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength)).indexOf(needle) !== -1;

/** The bytes as a Latin-1 string, one character per byte (short inputs: a token). */
export function latin1(bytes: Uint8Array): string {
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Base64url (RFC 4648 §5) without padding, as `Buffer#toString('base64url')` writes it. */
export function base64url(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += BASE64URL[n >> 18]! + BASE64URL[(n >> 12) & 63]! + BASE64URL[(n >> 6) & 63]! + BASE64URL[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += BASE64URL[n >> 18]! + BASE64URL[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += BASE64URL[n >> 18]! + BASE64URL[(n >> 12) & 63]! + BASE64URL[(n >> 6) & 63]!;
  }
  return out;
}

/**
 * True when `a` and `b` are the same string, in time that depends only on their length (for
 * secrets: tokens, signatures). Different lengths answer `false` at once, as
 * `crypto.timingSafeEqual` refuses them.
 */
export function timingSafeEqualStrings(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

// Web Crypto's getRandomValues (Node 22+, Bun, Deno, workerd), drawn in batches: one call per
// 64 values, since each call is a trip into the runtime (≈1.6 µs) and a token needs only 18 bytes.
const POOL_SIZE = 1152;
const pool = new Uint8Array(POOL_SIZE);
let used = POOL_SIZE;

/** `size` bytes from the runtime's cryptographic random source, each byte handed out once. */
export function randomBytes(size: number): Uint8Array {
  if (size > POOL_SIZE) return globalThis.crypto.getRandomValues(new Uint8Array(size));
  if (used + size > POOL_SIZE) {
    globalThis.crypto.getRandomValues(pool);
    used = 0;
  }
  const out = pool.slice(used, used + size);
  used += size;
  return out;
}
