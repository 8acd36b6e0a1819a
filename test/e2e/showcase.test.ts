/**
 * The showcase in a real browser: headless Chromium (playwright-core, Debian's chromium) logs
 * in, chats between two browser contexts, is refused when logged out (a real 401 on the
 * handshake), downloads the file whose checksum rides a trailer, and watches the live view
 * update — over HTTP/1.1 (http://) and over TLS HTTP/2 with RFC 8441 websockets (https://), on
 * one port. Screenshots land in test-artifacts/ (git-ignored).
 */
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { Browser, Page } from 'playwright-core';
import { createShowcase } from '../../examples/showcase/showcase.ts';
import { memoryStore } from '../../examples/showcase/store.ts';
import { NOTES } from '../../examples/showcase/download.ts';
import { call } from '../../examples/showcase/grpc-call.ts';
import { start } from '../fixtures/server.ts';
import { testCert } from '../fixtures/tls.ts';

const artifacts = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
mkdirSync(artifacts, { recursive: true });

const store = memoryStore();
t.teardown(() => store.close());
const app = await createShowcase(store, { secret: 'test-secret' });
const { cert, key } = testCert();
const { port } = await start(t, app, { tls: { cert, key } });

const { chromium } = await import('playwright-core');
const browser: Browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--ignore-certificate-errors'],
  timeout: 60_000,
});
t.teardown(() => browser.close());

const WAIT = { timeout: 20_000 };

async function open(t: Test, base: string): Promise<{ page: Page; console: string[] }> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true, viewport: { width: 1280, height: 1000 } });
  t.teardown(() => context.close());
  const page = await context.newPage();
  const console: string[] = [];
  page.on('console', (m) => console.push(m.text()));
  const response = await page.goto(`${base}/`, WAIT);
  t.equal(response?.status(), 200, 'the page loads');
  return { page, console };
}

const text = (page: Page, selector: string) => page.locator(selector).innerText();

async function login(page: Page, name: string): Promise<void> {
  await page.fill('#name', name);
  await page.click('#login');
  await page.locator('#chat-status', { hasText: `Connected as ${name}` }).first().waitFor(WAIT);
}

for (const [label, base, protocol, n] of [
  ['HTTP/1.1', `http://127.0.0.1:${port}`, 'HTTP/1.1', 1],
  ['TLS HTTP/2', `https://localhost:${port}`, 'HTTP/2', 2],
] as const) {
  const [a, b] = [`alice${n}`, `bob${n}`];
  t.test(`over ${label}: log in, chat between two browsers, download, live view, log out`, async (t) => {
    const alice = await open(t, base);
    t.equal(await text(alice.page, '#protocol'), protocol, 'the page says which protocol it came over');

    // Logged out: the chat's handshake is refused by the auth middleware with a real 401.
    await alice.page.locator('#chat-status', { hasText: 'Refused' }).first().waitFor(WAIT);
    t.match(await text(alice.page, '#chat-status'), /401/, 'the page shows the 401');

    await login(alice.page, a);
    const how = await text(alice.page, '#chat-status');
    t.match(how, protocol === 'HTTP/2' ? /RFC 8441/ : /HTTP\/1\.1 \(101/, `the websocket rode ${protocol}`);

    const bob = await open(t, base);
    await login(bob.page, b);
    await alice.page.locator('#messages li', { hasText: `${b} joined` }).first().waitFor(WAIT);

    await alice.page.fill('#chat-input', `hello bob over ${label}`);
    await alice.page.click('#send');
    await bob.page.locator('#messages li', { hasText: `hello bob over ${label}` }).first().waitFor(WAIT);
    await bob.page.fill('#chat-input', `hi ${a}`);
    await bob.page.click('#send');
    await alice.page.locator('#messages li', { hasText: `hi ${a}` }).first().waitFor(WAIT);
    t.pass('a message from each context reached the other');

    // The download: the file's bytes, and the probe's trailer matches what the browser hashed.
    const [download] = await Promise.all([alice.page.waitForEvent('download', WAIT), alice.page.click('#download-link')]);
    const saved = readFileSync((await download.path())!);
    t.equal(createHash('sha256').update(saved).digest('hex'), createHash('sha256').update(NOTES).digest('hex'), 'the downloaded file is whole');
    // The live view: the download's row, with the trailers escape and what the server did.
    const row = alice.page.locator(`#requests tbody tr[data-target="/download/notes.txt"][data-protocol="${protocol}"]`).first();
    await row.waitFor(WAIT);
    // Chromium sends no TE: trailers on HTTP/1.1 (dropped, by the table); HTTP/2 always carries them.
    const outcome = protocol === 'HTTP/2' ? 'taken: takeover' : 'degraded: body-without-trailers';
    t.match(await row.innerText(), `${protocol}`, 'the row names the protocol');
    t.match(await row.innerText(), `trailers`, 'and the escape asked for');
    t.match(await row.innerText(), outcome, 'and what the server did');
    await alice.page.click('#verify');
    await alice.page.waitForFunction("document.body.dataset.verified !== undefined", undefined, WAIT);
    t.equal(await alice.page.evaluate('document.body.dataset.verified'), 'match', "the trailer's checksum matches the bytes the browser got");
    t.equal(await alice.page.locator('#probe tbody tr').count(), 3, 'three trailer-aware and unaware clients');
    t.match(await text(alice.page, '#probe tbody'), /dropped/, 'the client without TE: trailers is shown without them');

    await alice.page.locator('#requests tbody tr[data-target="/chat"][data-status="401"]').first().waitFor(WAIT);
    t.match(await text(alice.page, '#stylesheet'), /preloaded/, 'Chromium turns push off: the stylesheet was preloaded');

    // gRPC behind the same auth, with the token the page shows.
    const me = (await alice.page.evaluate("fetch('/api/me').then((r) => r.json())")) as { token: string };
    t.match(await text(alice.page, '#grpc-command'), me.token, 'the page shows the command with the token');
    t.same(await call(`http://127.0.0.1:${port}`, me.token, 'from the test'), { text: 'you said: from the test' });

    await alice.page.screenshot({ path: `${artifacts}showcase${protocol === 'HTTP/2' ? '' : '-http1'}.png`, fullPage: true });

    // Logging out ends the session: the next handshake is refused again.
    await alice.page.click('#logout');
    await alice.page.locator('#chat-status', { hasText: 'Refused' }).first().waitFor(WAIT);
    t.match(await text(alice.page, '#chat-status'), /401/);
    await bob.page.locator('#messages li', { hasText: `${a} left` }).first().waitFor(WAIT);
  });
}

t.test('a logged-out websocket handshake gets a real 401 (not a 101 and a close)', async (t) => {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`);
  const status = await new Promise<number>((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => reject(new Error('opened')));
    ws.once('error', () => {});
  });
  ws.terminate();
  t.equal(status, 401);
  await t.rejects(call(`http://127.0.0.1:${port}`, undefined, 'x'), { code: 16 }, 'gRPC without a token: UNAUTHENTICATED');
});
