/**
 * The checks run before every measurement: one request with node's own clients (HTTP/1.1, h2c,
 * TLS h2), its status, headers, body and trailers, and `expect` to refuse a wrong answer. A
 * contender that answers wrongly is not measured.
 */
import { request as h1request } from 'node:http';
import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { spawn } from 'node:child_process';
import WebSocket from 'ws';
import { track } from './proc.ts';

/** What came back. */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  trailers: Record<string, string | string[] | undefined>;
  /** Paths the server pushed (HTTP/2). */
  pushed: string[];
}

/** One request. */
export interface Ask {
  protocol: 'h1' | 'h2c' | 'h2';
  port: number;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** The CA to trust for `h2` (the runner's self-signed certificate). */
  ca?: string;
}

const TIMEOUT = 10_000;

/** Sends one request and collects the whole answer. */
export function ask(o: Ask): Promise<Answer> {
  return o.protocol === 'h1' ? askH1(o) : askH2(o);
}

function askH1(o: Ask): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = h1request({ host: '127.0.0.1', port: o.port, path: o.path ?? '/', method: o.method ?? 'GET', headers: o.headers, agent: false, timeout: TIMEOUT }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), trailers: res.trailers, pushed: [] }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end(o.body);
  });
}

function askH2(o: Ask): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const authority = o.protocol === 'h2' ? `https://localhost:${o.port}` : `http://127.0.0.1:${o.port}`;
    const session: ClientHttp2Session = connect(authority, o.protocol === 'h2' ? { ca: o.ca, host: '127.0.0.1', servername: 'localhost' } : {});
    const pushed: string[] = [];
    const fail = (err: Error) => {
      session.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error('no answer within 10 s')), TIMEOUT);
    session.on('error', fail);
    session.on('stream', (push, headers) => {
      pushed.push(String(headers[constants.HTTP2_HEADER_PATH]));
      push.on('error', () => {});
      push.resume();
    });
    const stream = session.request({ ':method': o.method ?? 'GET', ':path': o.path ?? '/', ...o.headers }, { endStream: o.body === undefined });
    let headers: Answer['headers'] = {};
    let trailers: Answer['trailers'] = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (headers = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', fail);
    stream.on('end', () => {
      clearTimeout(timer);
      // Let a push that was promised before the response ended be counted.
      setTimeout(() => {
        session.close();
        resolve({ status: Number(headers[':status']), headers, body: Buffer.concat(chunks), trailers, pushed });
      }, 20);
    });
    if (o.body !== undefined) stream.end(o.body);
  });
}

/** Refuses a wrong answer. */
export function expect(condition: boolean, what: string): void {
  if (!condition) throw new Error(`wrong answer: ${what}`);
}

/** Checks status and body of a plain answer. */
export function expectAnswer(answer: Answer, status: number, body: string | ((b: Buffer) => boolean)): void {
  expect(answer.status === status, `status ${answer.status}, not ${status}`);
  if (typeof body === 'string') expect(answer.body.toString() === body, `body ${JSON.stringify(answer.body.toString().slice(0, 80))}, not ${JSON.stringify(body)}`);
  else expect(body(answer.body), `body of ${answer.body.length} bytes`);
}

/** Opens a websocket, sends a message, expects it back. */
export function expectWsEcho(port: number, message = 'ping'): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    const timer = setTimeout(() => (ws.terminate(), reject(new Error('no echo within 10 s'))), TIMEOUT);
    ws.on('error', (err) => (clearTimeout(timer), reject(err)));
    ws.once('open', () => ws.send(message));
    ws.once('message', (data) => {
      clearTimeout(timer);
      ws.close();
      if (String(data) === message) resolve();
      else reject(new Error(`wrong answer: echo ${JSON.stringify(String(data))}`));
    });
  });
}

/** Runs nghttp once with `-nv` and returns its frame log (to see PUSH_PROMISE frames). */
export function nghttpFrames(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = track(spawn('nghttp', ['-nv', `http://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`nghttp exited ${code}: ${out.slice(-300)}`))));
  });
}
