/**
 * Reading back the header block Node built for a listener's response (`res._header`, made by
 * Node's own `_storeHeader`: its validation, `writeHead` merging, order, duplicates and name
 * case), sans-IO: the fields that are the app's, and what the listener said about framing —
 * which the server owns (SPEC §3.2) and the adapter turns into what the server can honour.
 */
import { createGunzip, createInflate } from 'node:zlib';
import type { Transform } from 'node:stream';
import { HatchwayError, isServerManaged } from '../../src/index.ts';
import type { HeaderList } from '../../src/index.ts';
import { CONNECTION_SPECIFIC } from '../../src/host.ts';

// The lengths of the names readHead acts on (the fields the server manages, and framing): any
// other name is the app's as it stands, with no lowercased copy made (most of a head).
const WATCHED_LENGTHS = [...CONNECTION_SPECIFIC, 'trailer', 'content-length'].reduce((mask, name) => mask | (1 << name.length), 0);

const NO_CODINGS: readonly string[] = Object.freeze([]);

/** What a listener's header block says. */
export interface ListenerHead {
  /** The fields for `startResponse`: no connection-specific ones, none a `Connection` field names (RFC 9110 §7.6.1). */
  headers: HeaderList;
  /** The listener set Content-Length, Transfer-Encoding or Trailer itself (Node would not invent a length). */
  framed: boolean;
  /** Transfer codings other than `chunked`, in the order the listener applied them. */
  codings: readonly string[];
  /** The names a `Trailer` field announced, if there is one. */
  trailerNames: string[] | undefined;
  /** The value of the listener's `Content-Length` field, if it set one (and applied no coding). */
  contentLength: string | undefined;
}

function tokens(value: string): string[] {
  const out: string[] = [];
  for (const t of value.split(',')) {
    const token = t.trim().toLowerCase();
    if (token !== '') out.push(token);
  }
  return out;
}

/** Reads a header block (`HTTP/1.1 200 OK\r\nName: value\r\n…\r\n\r\n`) for a response of `status`. */
export function readHead(block: string, status: number): ListenerHead {
  const fields: HeaderList = [];
  let framed = false;
  let codings = NO_CODINGS;
  let trailerNames: string[] | undefined;
  let nominated: string[] | undefined;
  let contentLength: string | undefined;
  let start = block.indexOf('\r\n') + 2;
  for (;;) {
    const end = block.indexOf('\r\n', start);
    if (end === -1 || end === start) break;
    const colon = block.indexOf(':', start);
    const name = block.slice(start, colon);
    // Node writes `name: value`; values never contain CR or LF (it validated them).
    const value = block.slice(colon + 2, end);
    start = end + 2;
    if (name.length >= 32 || (WATCHED_LENGTHS & (1 << name.length)) === 0) {
      fields.push([name, value]);
      continue;
    }
    const lower = name.toLowerCase();
    if (lower === 'content-length') {
      framed = true;
      contentLength = value;
      fields.push([name, value]);
    } else if (lower === 'transfer-encoding') {
      framed = true;
      codings = codings.concat(tokens(value).filter((c) => c !== 'chunked'));
    } else if (lower === 'trailer') {
      framed = true;
      trailerNames = (trailerNames ?? []).concat(tokens(value));
    } else if (lower === 'connection') {
      // What Node adds itself (`close`: on every response here, `keep-alive`) nominates no field.
      if (value !== 'close' && value !== 'keep-alive') nominated = (nominated ?? []).concat(tokens(value));
    } else if (!isServerManaged(lower, status)) fields.push([name, value]);
  }
  let headers = fields;
  if (nominated !== undefined || codings.length > 0) {
    // A listener that applied a coding declared the length of the coded bytes, if any: not the content's.
    headers = fields.filter(([name]) => {
      const lower = name.toLowerCase();
      return !nominated?.includes(lower) && !(codings.length > 0 && lower === 'content-length');
    });
  }
  if (codings.length > 0) contentLength = undefined;
  return { headers, framed, codings, trailerNames, contentLength };
}

/** The transfer codings the gateway can undo (RFC 9112 §7); framing (`chunked`) is the server's. */
const DECODERS: Record<string, () => Transform> = { gzip: createGunzip, 'x-gzip': createGunzip, deflate: createInflate };

/**
 * Streams that undo `codings` (applied in that order): the listener's bytes go into `input`,
 * the content comes out of `output`. A coding it cannot undo throws
 * `ERR_HATCHWAY_ADAPTER_TRANSFER_CODING`.
 */
export function decoderFor(codings: readonly string[]): { input: Transform; output: Transform; stages: Transform[] } {
  const stages = codings
    .slice()
    .reverse()
    .map((coding) => {
      const make = DECODERS[coding];
      if (make === undefined) throw new HatchwayError('ERR_HATCHWAY_ADAPTER_TRANSFER_CODING', coding);
      return make();
    });
  for (let i = 0; i + 1 < stages.length; i++) stages[i]!.pipe(stages[i + 1]!);
  return { input: stages[0]!, output: stages[stages.length - 1]!, stages };
}
