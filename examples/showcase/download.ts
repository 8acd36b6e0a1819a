/**
 * A file download whose SHA-256 rides a trailer (`x-checksum`), and a probe that fetches it the
 * way trailer-aware clients do, so the page can show what they received — a browser's
 * `fetch()` never exposes trailers.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import { sendWithTrailers, type App } from '../../src/index.ts';

export const DOWNLOAD_PATH = '/download/notes.txt';

/** The file: about 64 KiB of text, the same in every process. */
export const NOTES = Array.from(
  { length: 1200 },
  (_, i) => `${String(i + 1).padStart(4, '0')} hatchway streams this line; the checksum of all of them follows as a trailer.\n`,
).join('');

export const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('base64');

/** Streams NOTES in 8 KiB chunks and computes the checksum as the bytes go. */
export const download: App = (environ, startResponse) => {
  const hash = createHash('sha256');
  return sendWithTrailers(environ, startResponse, {
    headers: [
      ['content-type', 'text/plain; charset=utf-8'],
      ['content-disposition', 'attachment; filename="notes.txt"'],
    ],
    names: ['x-checksum'],
    body: (async function* () {
      for (let i = 0; i < NOTES.length; i += 8192) {
        const chunk = NOTES.slice(i, i + 8192);
        hash.update(chunk);
        yield chunk;
      }
    })(),
    trailers: () => [['x-checksum', `sha-256=${hash.digest('base64')}`]],
  });
};

/** What one client saw. */
export interface ProbeResult {
  client: string;
  command: string;
  status: number;
  bytes: number;
  /** The SHA-256 of the body it received. */
  computed: string;
  /** The trailer fields it received (none when they were dropped). */
  trailers: Record<string, string>;
  error?: string;
}

function h1(port: number, te: boolean): Promise<Omit<ProbeResult, 'client' | 'command'>> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: DOWNLOAD_PATH, headers: te ? { te: 'trailers' } : {}, timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, bytes: body.length, computed: sha256(body), trailers: { ...(res.trailers as Record<string, string>) } });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

function h2c(port: number): Promise<Omit<ProbeResult, 'client' | 'command'>> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    session.setTimeout(5_000, () => session.destroy(new Error('timed out')));
    const stream = session.request({ ':path': DOWNLOAD_PATH, te: 'trailers' });
    const chunks: Buffer[] = [];
    let status = 0;
    let trailers: Record<string, string> = {};
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('trailers', (fields) => (trailers = Object.fromEntries(Object.entries(fields).filter(([n]) => !n.startsWith(':')).map(([n, v]) => [n, String(v)]))));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      session.close();
      const body = Buffer.concat(chunks);
      resolve({ status, bytes: body.length, computed: sha256(body), trailers });
    });
    stream.on('error', reject);
  });
}

/**
 * Fetches the download from this same server (on its cleartext side, which shares the port
 * with TLS) three ways, and says what each client got.
 */
export async function probe(port: number, host: string): Promise<ProbeResult[]> {
  const url = `http://${host}${DOWNLOAD_PATH}`;
  const runs: [string, string, () => ReturnType<typeof h1>][] = [
    ['HTTP/1.1 with TE: trailers', `curl -s --raw -H 'TE: trailers' ${url}`, () => h1(port, true)],
    ['HTTP/2 (h2c)', `curl -s --http2-prior-knowledge -D - ${url}`, () => h2c(port)],
    ['HTTP/1.1 without TE: trailers', `curl -s --raw ${url}`, () => h1(port, false)],
  ];
  return Promise.all(
    runs.map(async ([client, command, run]) => {
      try {
        return { client, command, ...(await run()) };
      } catch (err) {
        return { client, command, status: 0, bytes: 0, computed: '', trailers: {}, error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
}
