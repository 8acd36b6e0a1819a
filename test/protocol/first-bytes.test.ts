import t from 'tap';
import { H2_PREFACE, classifyFirstBytes } from '../../src/protocol/first-bytes.ts';

const bytes = (s: string | number[]): Uint8Array => (typeof s === 'string' ? new TextEncoder().encode(s) : Uint8Array.from(s));

t.test('nothing yet, and every proper prefix of the preface, waits for more', async (t) => {
  t.equal(classifyFirstBytes(new Uint8Array(0)), 'more');
  for (let n = 1; n < H2_PREFACE.length; n++) t.equal(classifyFirstBytes(H2_PREFACE.subarray(0, n)), 'more', `prefix of ${n}`);
});

t.test('the whole preface is HTTP/2, with or without the frames behind it', async (t) => {
  t.equal(classifyFirstBytes(H2_PREFACE), 'h2');
  t.equal(classifyFirstBytes(Uint8Array.from([...H2_PREFACE, 0, 0, 0, 4, 0, 0, 0, 0, 0])), 'h2');
});

t.test('a TLS handshake record is TLS', async (t) => {
  t.equal(classifyFirstBytes(bytes([0x16, 0x03, 0x01])), 'tls');
  t.equal(classifyFirstBytes(bytes([0x16])), 'tls');
});

t.test('request lines that leave the preface early are HTTP/1.1', async (t) => {
  for (const line of ['GET / HTTP/1.1\r\n', 'POST /', 'PUT /', 'PATCH /', 'PROPFIND / HTTP/1.1', 'OPTIONS * HTTP/1.1', 'X']) {
    t.equal(classifyFirstBytes(bytes(line)), 'http1', line);
  }
});

t.test('a connection that starts with PRI but leaves the preface is rejected', async (t) => {
  t.equal(classifyFirstBytes(bytes('PRI / HTTP/1.1\r\n')), 'reject');
  t.equal(classifyFirstBytes(bytes('PRI * HTTP/1.1\r\n')), 'reject');
  t.equal(classifyFirstBytes(bytes('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n')), 'reject');
  t.equal(classifyFirstBytes(bytes('PRIX')), 'reject');
});
