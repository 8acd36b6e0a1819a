/**
 * The conformance checklist as data. Each rule has a stable id (`HW-<CLASS>-<nn>`: never
 * renumbered, never reused), a title, why it matters, the SPEC section it enforces, how it is
 * checked, a hint naming the helper that keeps it, the probes that exercise it, and a passing
 * and a violating example — runnable middleware, which the tests check and `docs/CHECKLIST.md`
 * prints. The lint middleware, `checkMiddleware` and the generated checklist all read this
 * table, so they cannot drift apart.
 *
 * From `wsgiref.validate`: HW-ENV-01, HW-RSP-01/02, HW-BODY-01, HW-CLOSE-01/03, HW-IN-01/02.
 * From PEP 3333, never checked by wsgiref: HW-RSP-03/04/05/06, HW-BODY-02/03. The escape and
 * pass-through rules are hatchway's own.
 *
 * @module
 */
import { asyncApp } from '../gateway/compose.ts';
import { onBodyClose, toBytes } from '../gateway/body.ts';
import type { Chunk, Middleware } from '../gateway/types.ts';
import { copyEnviron, isEscapeResponse, mapBody, replayInput } from './helpers.ts';

/** The classes of rules, in the checklist's order. */
export const RULE_CLASSES = {
  /** `HW-ENV-*`: what a middleware passes inward as the environ. */
  ENV: 'The environ passed inward',
  /** `HW-HDR-*`: request and response header fields keep their order and duplicates. */
  HDR: 'Header lists',
  /** `HW-RSP-*`: calling `startResponse`, and the status and headers it is given. */
  RSP: 'startResponse, status and headers',
  /** `HW-BODY-*`: what the body yields and how it is iterated. */
  BODY: 'The body and its chunks',
  /** `HW-CLOSE-*`: the inner body closed exactly once, on early return too, and not read after. */
  CLOSE: 'Closing',
  /** `HW-IN-*`: the `input` passed inward, and `input` and `errors` left open. */
  IN: 'Request input and errors',
  /** `HW-ERR-*`: errors are not swallowed. */
  ERR: 'Errors',
  /** `HW-ESC-*`: server extensions, token responses and their control fields passed through. */
  ESC: 'Escapes',
} as const;

/** A rule's class: the part of the interface it is about. */
export type RuleClass = keyof typeof RULE_CLASSES;

/** A rule: what the checklist says, and how to see it kept and broken. */
export interface Rule {
  /** The stable id, `HW-<CLASS>-<nn>`: never renumbered, never reused. */
  readonly id: string;
  /** The part of the interface the rule is about (see {@link RULE_CLASSES}). */
  readonly class: RuleClass;
  /** The rule in one line, as the checklist's heading shows it. */
  readonly title: string;
  /** Why it matters: what breaks for whom when it is broken. */
  readonly why: string;
  /** The SPEC section it enforces. */
  readonly spec: string;
  /** How lint and the checker see it. */
  readonly check: string;
  /** What to do instead, and the helper that does it. */
  readonly hint: string;
  /** The probes (probes.ts) that exercise it. */
  readonly probes: readonly string[];
  /** False for rules about the middleware's own response, which apply even when it never calls the inner app. */
  readonly needsInner: boolean;
  /** Where the rule comes from. */
  readonly source: 'wsgiref.validate' | 'PEP 3333' | 'hatchway';
  /** Runnable middleware: one that keeps the rule and one that breaks it (printed in docs/CHECKLIST.md, run by the tests). */
  readonly examples: {
    /** A middleware that keeps the rule: `checkMiddleware` passes it. */
    readonly pass: Middleware;
    /** A middleware that breaks the rule: `checkMiddleware` fails it on this rule. */
    readonly fail: Middleware;
  };
}

const rule = <const Id extends string>(r: Omit<Rule, 'id' | 'needsInner'> & { id: Id; needsInner?: boolean }): Rule & {
  /** The stable id, `HW-<CLASS>-<nn>`: never renumbered, never reused. */
  readonly id: Id;
} => ({ needsInner: true, ...r });

/** A header adder: the simplest middleware that keeps every rule. */
const addsHeader: Middleware = (app) => (environ, startResponse) =>
  app(environ, (status, headers, excInfo) => startResponse(status, [...headers, ['x-frame-options', 'DENY']], excInfo));

/**
 * Every rule, in checklist order.
 *
 * @example
 * ```ts
 * import { RULES, ruleById } from 'hatchway';
 *
 * for (const rule of RULES) console.log(rule.id, rule.title);
 * console.log(ruleById('HW-ESC-02').hint); // Leave a response alone when `isEscapeResponse(headers)`; …
 * ```
 */
export const RULES = [
  rule({
    id: 'HW-ENV-01',
    class: 'ENV',
    title: 'The environ passed inward has every required key, with its type',
    why: 'Apps and inner middleware read `method`, `pathInfo`, `input`, `signal`… without checking; a missing or mistyped key fails far from its cause.',
    spec: '§2.1',
    check: 'The inner boundary checks each key of SPEC §2.1 and its type (`scriptName` never ends in `/`, `pathInfo` is empty or starts with `/`, header names lowercase).',
    hint: 'Change the environ with `copyEnviron(environ, { … })`, which keeps every key; a mount moves a prefix from `pathInfo` to `scriptName` without a trailing `/`.',
    probes: ['plain'],
    source: 'wsgiref.validate',
    examples: {
      pass: (app) => (environ, startResponse) => app(copyEnviron(environ, { 'auth.user': 'alice' }), startResponse),
      fail: (app) => (environ, startResponse) => app({ ...environ, scriptName: '/api/', signal: undefined as never }, startResponse),
    },
  }),
  rule({
    id: 'HW-ENV-02',
    class: 'ENV',
    title: 'Environ keys it does not understand are passed inward',
    why: "Outer middleware talk to inner apps through namespaced keys (`auth.user`, `session.data`); dropping them breaks a contract the middleware is not part of.",
    spec: '§2, §6',
    check: "The checker's request carries an unknown key (`conformance.probe`); the inner boundary reports every key of the outer environ missing from the inner one.",
    hint: 'Copy the environ with `copyEnviron(environ, changes)` (or `{ ...environ, … }`), never by listing the keys you know.',
    probes: ['plain'],
    source: 'hatchway',
    examples: {
      pass: (app) => (environ, startResponse) => app(copyEnviron(environ, { pathInfo: environ.pathInfo }), startResponse),
      fail: (app) => (environ, startResponse) => app(Object.fromEntries(Object.entries(environ).filter(([key]) => !key.includes('.') || key.startsWith('hatchway.'))) as never, startResponse),
    },
  }),
  rule({
    id: 'HW-HDR-01',
    class: 'HDR',
    title: 'Response header fields keep their order and duplicates',
    why: 'Repeated fields are separate on the wire: two `set-cookie` fields joined with a comma are one broken cookie, and re-ordered values change meaning (`link`, `via`).',
    spec: '§3.2, §6',
    check: 'The probe answers with repeated fields (`set-cookie`, `x-hw-b`); the boundaries compare the inner and the outer header lists: each repeated field must stay as many separate fields, in the same order.',
    hint: 'Treat headers as a list of pairs: append with `[...headers, [name, value]]`, remove with `filter`; never go through an object or a Map.',
    probes: ['plain'],
    source: 'hatchway',
    examples: {
      pass: addsHeader,
      fail: (app) => (environ, startResponse) =>
        app(environ, (status, headers, excInfo) => {
          const merged = new Map<string, string>();
          for (const [name, value] of headers) merged.set(name, merged.has(name) ? `${merged.get(name)}, ${value}` : value);
          startResponse(status, [...merged], excInfo);
        }),
    },
  }),
  rule({
    id: 'HW-HDR-02',
    class: 'HDR',
    title: 'Request header fields keep their order and duplicates',
    why: 'Inner apps and middleware (a proxy-header parser, a cookie reader) depend on repeated request fields as received.',
    spec: '§2.3, §6',
    check: 'The probe request carries a repeated field (`x-hw-probe`); the inner boundary compares the outer and inner request header lists.',
    hint: 'Add request fields with `copyEnviron(environ, { headers: [...environ.headers, [name, value]] })`.',
    probes: ['plain'],
    source: 'hatchway',
    examples: {
      pass: (app) => (environ, startResponse) => app(copyEnviron(environ, { headers: [...environ.headers, ['x-request-start', '1']] }), startResponse),
      fail: (app) => (environ, startResponse) => {
        const merged = new Map<string, string>();
        for (const [name, value] of environ.headers) merged.set(name, merged.has(name) ? `${merged.get(name)}, ${value}` : value);
        return app({ ...environ, headers: [...merged] }, startResponse);
      },
    },
  }),
  rule({
    id: 'HW-RSP-01',
    class: 'RSP',
    title: 'Status and header fields are valid',
    why: 'An invalid field (a CR or LF in a value, a hop-by-hop field) is refused by the server at commit time, turning a working response into a 500.',
    spec: '§3.1, §3.2',
    check: "Each of the middleware's `startResponse` calls is checked with the server's own `parseStatus` and `validateHeaders`.",
    hint: 'Build values from validated parts; framing (`content-length`, `transfer-encoding`) and `connection` are the server\'s.',
    probes: ['plain'],
    needsInner: false,
    source: 'wsgiref.validate',
    examples: {
      pass: addsHeader,
      fail: (app) => (environ, startResponse) => app(environ, (status, headers, excInfo) => startResponse(status, [...headers, ['x-note', 'two\nlines']], excInfo)),
    },
  }),
  rule({
    id: 'HW-RSP-02',
    class: 'RSP',
    title: '`startResponse` is called before the first non-empty chunk',
    why: 'The status and headers go out with the first chunk; a chunk before them has no response to belong to, and the server answers 500.',
    spec: '§3.4',
    check: "The outer boundary reports a non-empty chunk, or the end of the body, before the middleware's first `startResponse`. The `lazy` probe calls `startResponse` during iteration.",
    hint: 'Wrap the inner body with `mapBody` rather than yielding a preamble of your own: the inner app may call `startResponse` late.',
    probes: ['lazy', 'plain'],
    needsInner: false,
    source: 'wsgiref.validate',
    examples: {
      pass: (app) => (environ, startResponse) => mapBody(app(environ, startResponse), (chunk) => chunk),
      fail: (app) => (environ, startResponse) => {
        const body = app(environ, startResponse);
        return {
          async *[Symbol.asyncIterator]() {
            yield '<!-- banner -->';
            yield* body as AsyncIterable<Chunk>;
          },
          close: () => body.close?.(),
        };
      },
    },
  }),
  rule({
    id: 'HW-RSP-03',
    class: 'RSP',
    title: 'A second `startResponse` only with `excInfo`',
    why: 'A second call without `excInfo` is a bug the server refuses (a 500); with `excInfo` it deliberately replaces the response after an error.',
    spec: '§3.3',
    check: "The outer boundary counts the middleware's `startResponse` calls.",
    hint: 'Decide the status once; to replace a response after an error, pass the error as `excInfo`.',
    probes: ['plain'],
    needsInner: false,
    source: 'PEP 3333',
    examples: {
      pass: (app) => (environ, startResponse) => {
        try {
          return app(environ, startResponse);
        } catch (err) {
          startResponse(500, [['content-type', 'text/plain']], err);
          return ['failed\n'];
        }
      },
      fail: (app) => (environ, startResponse) => {
        startResponse(200, [['content-type', 'text/plain']]);
        return app(environ, startResponse);
      },
    },
  }),
  rule({
    id: 'HW-RSP-04',
    class: 'RSP',
    title: 'Late commit: the status is known when the inner `startResponse` is called, not when the inner app returns',
    why: 'An `asyncApp` or a generator calls `startResponse` during iteration; a middleware that reads the status right after `app()` returns sends a wrong or default status.',
    spec: '§3.3',
    check: 'The `lazy` probe sets `203` and a field during iteration; the response must carry them.',
    hint: 'Wrap `startResponse` and act inside the wrapper, as a header adder does; to change chunks, wrap the body with `mapBody`.',
    probes: ['lazy', 'plain'],
    source: 'PEP 3333',
    examples: {
      pass: addsHeader,
      fail: (app) => (environ, startResponse) => {
        let status: number | string = 500;
        let headers: [string, string][] = [];
        const body = app(environ, (s, h) => {
          status = s;
          headers = h;
        });
        startResponse(status, [...headers, ['x-seen-status', String(status)]]);
        return body;
      },
    },
  }),
  rule({
    id: 'HW-RSP-05',
    class: 'RSP',
    title: 'Content-Length matches the body',
    why: 'A wrong length is a 500 before the commit, a torn-down response after it; a client or proxy trusting it reads garbage or hangs.',
    spec: '§4.3',
    check: 'The outer boundary counts the bytes the middleware sends against the `content-length` it declares (not for HEAD, 204, 304).',
    hint: 'A middleware that changes the body drops `content-length` (the server frames the body) or recomputes it over the whole new body.',
    probes: ['length', 'plain'],
    needsInner: false,
    source: 'PEP 3333',
    examples: {
      pass: (app) => (environ, startResponse) => {
        const body = app(environ, (status, headers, excInfo) => startResponse(status, headers.filter(([name]) => name.toLowerCase() !== 'content-length'), excInfo));
        return mapBody(body, { chunk: (chunk) => chunk, end: () => '\n' });
      },
      fail: (app) => (environ, startResponse) =>
        app(environ, (status, headers, excInfo) => startResponse(status, [...headers.filter(([name]) => name.toLowerCase() !== 'content-length'), ['content-length', '1000']], excInfo)),
    },
  }),
  rule({
    id: 'HW-RSP-06',
    class: 'RSP',
    title: 'No body on HEAD, 204 and 304',
    why: 'The server drops those bytes, so a footer or an error page added to a 304 is work wasted at best; a middleware that counts on them is wrong.',
    spec: '§4.5',
    check: 'The `not-modified` probe answers 304 and the `head` probe a HEAD request, both without body bytes; the middleware must add none.',
    hint: 'Before adding bytes, test `bodyForbidden(environ.method, status)`.',
    probes: ['not-modified', 'head'],
    needsInner: false,
    source: 'PEP 3333',
    examples: {
      pass: (app) => (environ, startResponse) => {
        let status = 200;
        const body = app(environ, (s, headers, excInfo) => {
          status = Number(String(s).slice(0, 3));
          startResponse(s, headers.filter(([name]) => name.toLowerCase() !== 'content-length'), excInfo);
        });
        return mapBody(body, { chunk: (chunk) => chunk, end: () => (environ.method === 'HEAD' || status === 204 || status === 304 ? undefined : '<!-- served -->') });
      },
      fail: (app) => (environ, startResponse) => {
        const body = app(environ, (status, headers, excInfo) => startResponse(status, headers.filter(([name]) => name.toLowerCase() !== 'content-length'), excInfo));
        return mapBody(body, { chunk: (chunk) => chunk, end: () => '<!-- served -->' });
      },
    },
  }),
  rule({
    id: 'HW-BODY-01',
    class: 'BODY',
    title: 'The body is an iterable of strings and Uint8Arrays',
    why: 'Anything else (a Promise, a number, an object) is a 500 at the server, and a body-reading middleware further out breaks on it first.',
    spec: '§4.1, §4.2',
    check: "The outer boundary checks the middleware's return value and each chunk.",
    hint: 'Return an array or a (async) generator; wrap `async` handlers with `asyncApp`; convert with `toBytes`.',
    probes: ['plain', 'sync', 'array'],
    needsInner: false,
    source: 'wsgiref.validate',
    examples: {
      pass: (app) => (environ, startResponse) => mapBody(app(environ, startResponse), (chunk) => toBytes(chunk)),
      fail: (app) => (environ, startResponse) => mapBody(app(environ, startResponse), (chunk) => ({ chunk }) as never),
    },
  }),
  rule({
    id: 'HW-BODY-02',
    class: 'BODY',
    title: 'At least one chunk out per chunk in',
    why: "PEP 3333: a middleware must yield (possibly empty) output for each chunk of the app's, so streaming, server-sent events and progress reach the client.",
    spec: '§5.2, §6',
    check: 'The boundaries count the chunks of a response passed through: the middleware must send at least as many (empty ones count) as the inner body yielded (an array body, known whole, is exempt).',
    hint: 'Map chunk by chunk with `mapBody`; a compressor flushes per chunk (`Z_SYNC_FLUSH`) or yields `\'\'`.',
    probes: ['plain', 'sync'],
    source: 'PEP 3333',
    examples: {
      pass: (app) => (environ, startResponse) => mapBody(app(environ, startResponse), (chunk) => chunk),
      fail: (app) => (environ, startResponse) => {
        const body = app(environ, startResponse);
        return {
          async *[Symbol.asyncIterator]() {
            const parts: Uint8Array[] = [];
            for await (const chunk of body as AsyncIterable<Chunk>) parts.push(toBytes(chunk));
            yield Buffer.concat(parts);
          },
          close: () => body.close?.(),
        };
      },
    },
  }),
  rule({
    id: 'HW-BODY-03',
    class: 'BODY',
    title: 'No delayed block: a chunk goes out before the next one is awaited',
    why: 'An app that streams (a log tail, a long poll, SSE) waits between chunks; a middleware that holds a chunk until the next arrives delays it by that wait.',
    spec: '§5.2, §6',
    check: 'The `slow` probe yields a chunk and then waits (up to 250 ms) for it to come out of the middleware before it yields the next.',
    hint: 'Yield as soon as you have output; `mapBody` does.',
    probes: ['slow'],
    source: 'PEP 3333',
    examples: {
      pass: (app) => (environ, startResponse) => mapBody(app(environ, startResponse), (chunk) => chunk),
      fail: (app) => (environ, startResponse) => {
        const body = app(environ, startResponse);
        return {
          async *[Symbol.asyncIterator]() {
            let previous: Chunk | undefined;
            for await (const chunk of body as AsyncIterable<Chunk>) {
              if (previous !== undefined) yield previous;
              previous = chunk;
            }
            if (previous !== undefined) yield previous;
          },
          close: () => body.close?.(),
        };
      },
    },
  }),
  rule({
    id: 'HW-BODY-04',
    class: 'BODY',
    title: 'Sync and async bodies are both handled',
    why: 'Apps return arrays, generators and async generators; a middleware that assumes one kind fails (a 500) on the others.',
    spec: '§4.1',
    check: 'The `array`, `sync` and `plain` (async) probes must all get through if one does.',
    hint: 'Iterate with `for await…of`, which takes both; `mapBody` does.',
    probes: ['plain', 'sync', 'array'],
    source: 'hatchway',
    examples: {
      pass: (app) => (environ, startResponse) => mapBody(app(environ, startResponse), (chunk) => chunk),
      fail: (app) => (environ, startResponse) => {
        const body = app(environ, startResponse);
        return { [Symbol.asyncIterator]: () => (body as AsyncIterable<Chunk>)[Symbol.asyncIterator](), close: () => body.close?.() };
      },
    },
  }),
  rule({
    id: 'HW-BODY-05',
    class: 'BODY',
    title: 'Backpressure: no reading ahead of a slow client',
    why: 'The server pulls a chunk only when the client took the last; a middleware that drains the inner body into a queue holds a whole (maybe endless) body in memory.',
    spec: '§5.2',
    check: 'The `stall` probe offers 256 chunks of 16 KiB to a client that stops reading after the first; more than 32 pulled (512 KiB) is unbounded buffering.',
    hint: 'Pull the inner body only when your own body is pulled: `mapBody`.',
    probes: ['stall'],
    source: 'hatchway',
    examples: {
      pass: (app) => (environ, startResponse) => mapBody(app(environ, startResponse), (chunk) => chunk),
      fail: (app) => (environ, startResponse) => {
        const body = app(environ, startResponse);
        const queue: Chunk[] = [];
        let done = false;
        void (async () => {
          for await (const chunk of body as AsyncIterable<Chunk>) queue.push(chunk);
        })()
          .catch(() => {})
          .finally(() => (done = true));
        return {
          async *[Symbol.asyncIterator]() {
            while (!done || queue.length > 0) {
              if (queue.length > 0) yield queue.shift()!;
              else await new Promise((resolve) => setTimeout(resolve, 1));
            }
          },
          close: () => body.close?.(),
        };
      },
    },
  }),
  rule({
    id: 'HW-CLOSE-01',
    class: 'CLOSE',
    title: 'The inner body is closed exactly once',
    why: '`close()` releases what the app holds (a file, a database cursor, escape registrations, an access-log line); never is a leak, twice runs cleanup twice.',
    spec: '§4.4, §6',
    check: 'The inner boundary counts `close()` calls on every body the middleware got; after the response each must be 1.',
    hint: 'Return a body whose `close()` closes the inner one: `onBodyClose(body, fn)` or `mapBody`.',
    probes: ['plain', 'sync', 'array'],
    source: 'wsgiref.validate',
    examples: {
      pass: (app) => (environ, startResponse) => onBodyClose(app(environ, startResponse), () => environ.errors.write('done')),
      fail: (app) => (environ, startResponse) => {
        const body = app(environ, startResponse);
        return {
          async *[Symbol.asyncIterator]() {
            yield* body as AsyncIterable<Chunk>;
          },
        };
      },
    },
  }),
  rule({
    id: 'HW-CLOSE-02',
    class: 'CLOSE',
    title: 'Closed exactly once on early return too',
    why: 'When the client leaves, the server stops iterating and closes the body; a middleware that closes the inner body only after its last chunk leaks on every aborted request.',
    spec: '§4.4',
    check: 'The `disconnect` probe\'s client leaves after the first bytes; the inner body must still be closed once.',
    hint: 'Close in `close()`, not after the loop: `mapBody` and `onBodyClose` do.',
    probes: ['disconnect'],
    source: 'hatchway',
    examples: {
      pass: (app) => (environ, startResponse) => mapBody(app(environ, startResponse), (chunk) => chunk),
      fail: (app) => (environ, startResponse) => {
        const body = app(environ, startResponse);
        return {
          async *[Symbol.asyncIterator]() {
            for await (const chunk of body as AsyncIterable<Chunk>) yield chunk;
            body.close?.();
          },
        };
      },
    },
  }),
  rule({
    id: 'HW-CLOSE-03',
    class: 'CLOSE',
    title: 'No reads after close',
    why: 'After `close()` the app has released its resources; reading then reads a closed file or a finished cursor.',
    spec: '§4.4',
    check: "The inner boundary reports a `next()` on a body after its `close()`.",
    hint: 'Close last; to drain, read before closing.',
    probes: ['sync'],
    source: 'wsgiref.validate',
    examples: {
      pass: (app) => (environ, startResponse) => mapBody(app(environ, startResponse), (chunk) => chunk),
      fail: (app) => (environ, startResponse) => {
        const body = app(environ, startResponse);
        return {
          [Symbol.iterator]: () => (body as Iterable<Chunk>)[Symbol.iterator](),
          close() {
            body.close?.();
            if (Symbol.iterator in body) for (const chunk of body as Iterable<Chunk>) void chunk;
          },
        };
      },
    },
  }),
  rule({
    id: 'HW-IN-01',
    class: 'IN',
    title: 'The input passed inward yields the length it declares',
    why: 'A middleware that reads the body (a parser, a signature check) and passes the consumed reader on leaves the app an empty body that claims a length.',
    spec: '§2.4',
    check: 'The `input` probe POSTs a body; the inner app reads `environ.input` and compares the bytes with `input.length`.',
    hint: 'Having read the body, pass `replayInput(bytes)` as the new `input`.',
    probes: ['input'],
    source: 'wsgiref.validate',
    examples: {
      pass: (app) =>
        asyncApp(async (environ, startResponse) => {
          const bytes = await environ.input.bytes(1 << 20);
          return app(copyEnviron(environ, { input: replayInput(bytes), 'raw.body': bytes }), startResponse);
        }),
      fail: (app) =>
        asyncApp(async (environ, startResponse) => {
          environ['raw.body'] = await environ.input.bytes(1 << 20);
          return app(environ, startResponse);
        }),
    },
  }),
  rule({
    id: 'HW-IN-02',
    class: 'IN',
    title: '`input` and `errors` are not closed',
    why: 'They belong to the server: closing the request stream or the error stream breaks keep-alive, later middleware and the access log.',
    spec: '§2.4, §2.5',
    check: 'The inner boundary hands on `input` and `errors` guarded: `close`, `destroy`, `end` or `cancel` on them is reported.',
    hint: 'Stop reading instead; the server discards an unread body after the response.',
    probes: ['input'],
    source: 'wsgiref.validate',
    examples: {
      pass: addsHeader,
      fail: (app) => (environ, startResponse) => {
        (environ.input as unknown as { destroy?: () => void }).destroy?.();
        return app(environ, startResponse);
      },
    },
  }),
  rule({
    id: 'HW-ERR-01',
    class: 'ERR',
    title: 'Errors are not swallowed',
    why: 'An error turned into a 200 hides a failure from clients, caches and monitoring; one swallowed after the commit makes a truncated response look complete.',
    spec: '§5.3',
    check: 'The `throw-call`, `throw-early` and `throw-late` probes fail; the response must be an error status (or the error must propagate), and after the commit an aborted response.',
    hint: 'Let errors propagate, or answer with a 4xx/5xx through `startResponse(status, headers, err)`; after the first chunk, rethrow.',
    probes: ['throw-call', 'throw-early', 'throw-late'],
    source: 'hatchway',
    examples: {
      pass: (app) => (environ, startResponse) => {
        try {
          return app(environ, startResponse);
        } catch (err) {
          startResponse(500, [['content-type', 'text/plain']], err);
          return ['failed\n'];
        }
      },
      fail: (app) => (environ, startResponse) => {
        try {
          return app(environ, startResponse);
        } catch {
          startResponse(200, [['content-type', 'text/plain']]);
          return ['ok\n'];
        }
      },
    },
  }),
  rule({
    id: 'HW-ESC-01',
    class: 'ESC',
    title: 'Server extensions are passed inward, or intercepted through a wrapper that calls them',
    why: 'Dropping `hatchway.websocket`, `hatchway.trailers` or `hatchway.push` silently turns every escape behind the middleware into its degrade (a 426, trailers lost).',
    spec: '§6, §7.1',
    check: 'Each `hatchway.*` key is spied on outside; the inner boundary reports a key missing inward, or replaced by a function that does not call the original. Hiding one is allowed when the middleware also sets its `features` flag to `false` in a `features` object of its own.',
    hint: 'Pass the environ on with `copyEnviron`; intercept by wrapping (`interceptHttp2` for HTTP/2 handlers); to hide a feature, `copyEnviron(environ, { features: { ...environ.features, trailers: false } })` and delete the key.',
    probes: ['plain', 'websocket', 'trailers', 'push'],
    source: 'hatchway',
    examples: {
      pass: (app) => (environ, startResponse) => {
        const register = environ['hatchway.trailers'] as ((registration: object) => string) | undefined;
        if (register === undefined) return app(environ, startResponse);
        return app(copyEnviron(environ, { 'hatchway.trailers': (registration: object) => register({ ...registration }) }), startResponse);
      },
      fail: (app) => (environ, startResponse) => {
        const inner = { ...environ };
        for (const key of Object.keys(inner)) if (key.startsWith('hatchway.')) delete inner[key];
        return app(inner, startResponse);
      },
    },
  }),
  rule({
    id: 'HW-ESC-02',
    class: 'ESC',
    title: 'A token response is passed byte for byte, or replaced wholesale',
    why: 'A token body that was compressed or rewritten cannot be recognised: the server falls back (a 426, trailers dropped) and the feature is lost for every client behind this middleware.',
    spec: '§6, §7.3',
    check: 'The `websocket` and `trailers` probes answer with tokens; with the control field kept, the body must arrive unaltered and without `content-encoding` (the server\'s own recognition must say `honoured`).',
    hint: 'Leave a response alone when `isEscapeResponse(headers)`; or answer with a status of your own (a 401 always wins).',
    probes: ['websocket', 'trailers'],
    source: 'hatchway',
    examples: {
      pass: (app) => (environ, startResponse) => {
        let escape = false;
        const body = app(environ, (status, headers, excInfo) => {
          escape = isEscapeResponse(headers);
          startResponse(status, headers, excInfo);
        });
        return mapBody(body, (chunk) => (escape ? chunk : String(chunk).toUpperCase()));
      },
      fail: (app) => (environ, startResponse) => mapBody(app(environ, startResponse), (chunk) => String(chunk).toUpperCase()),
    },
  }),
  rule({
    id: 'HW-ESC-03',
    class: 'ESC',
    title: 'Control fields are kept or dropped with their response, never alone',
    why: 'A token body without its `hatchway-escape` field (or a field altered) is half an escape: the server must refuse or fall back, and a push is lost.',
    spec: '§6, §7.3, §7.7',
    check: 'The escape probes compare the inner and outer control fields: the field must arrive as it left whenever the token body or the 2xx status did.',
    hint: 'Never filter `hatchway-escape` out of a header list; `isEscapeResponse(headers)` tells you to leave the response alone.',
    probes: ['websocket', 'trailers', 'push'],
    source: 'hatchway',
    examples: {
      pass: addsHeader,
      fail: (app) => (environ, startResponse) => app(environ, (status, headers, excInfo) => startResponse(status, headers.filter(([name]) => name.toLowerCase() !== 'hatchway-escape'), excInfo)),
    },
  }),
] as const satisfies readonly Rule[];

/** A rule's stable id. */
export type RuleId = (typeof RULES)[number]['id'];

/** The rule with this id (throws on an unknown id). */
export function ruleById(id: string): Rule {
  const found = RULES.find((r) => r.id === id);
  if (found === undefined) throw new TypeError(`unknown conformance rule '${id}'`);
  return found;
}
