import t from 'tap';
import { Agent, request } from 'node:http';
import WebSocket from 'ws';
import { acceptWebSocket, associate, compose, liveRegistrations, sendWithTrailers, type App } from '../../src/index.ts';
import { start } from '../fixtures/server.ts';
import { auth, gzipEverything, session } from '../fixtures/chain.ts';

const trailers: App = (environ, startResponse) =>
  sendWithTrailers(environ, startResponse, { body: ['abc'], trailers: () => [['x-n', '1']], names: ['x-n'] });

const slow: App = (environ, startResponse) =>
  sendWithTrailers(environ, startResponse, {
    body: (async function* () {
      // waits until the client goes away (bounded, in case it never does)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5_000);
        environ.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      yield 'late';
    })(),
    trailers: () => [],
  });

const routes: Record<string, App> = {
  '/trailers': trailers,
  '/slow': slow,
  '/ws': (environ, startResponse) => acceptWebSocket(environ, startResponse, { onSocket: (ws) => ws.close(1000) }),
  '/gz': gzipEverything(trailers),
  '/push': (environ, startResponse) => {
    startResponse(200, [['content-type', 'text/html'], ...associate(environ, [{ path: '/a.css', as: 'style' }])]);
    return ['<p>'];
  },
};

const app = compose(auth(), session)((environ, startResponse) => routes[environ.pathInfo]!(environ, startResponse));

t.test('registrations count back to zero after 10 000 mixed requests', async (t) => {
  const { port, server } = await start(t, app);
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  t.teardown(() => agent.destroy());
  const outcomes: Record<string, number> = {};
  const kinds = ['honoured', 'degraded', 'replaced', 'fallback', 'push', 'honoured', 'degraded', 'honoured', 'aborted', 'fallback'] as const;
  const one = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const kind = kinds[i % kinds.length]!;
      const path = { honoured: '/trailers', degraded: '/trailers', replaced: '/trailers', fallback: i % 2 ? '/gz' : '/ws', push: '/push', aborted: '/slow' }[kind];
      const headers: Record<string, string> = kind === 'replaced' ? {} : { authorization: 'Bearer letmein' };
      if (kind === 'honoured') headers.te = 'trailers';
      const req = request({ host: '127.0.0.1', port, path, headers, agent: kind === 'aborted' ? false : agent }, (res) => {
        res.resume();
        res.on('end', () => {
          const key = `${kind} ${res.statusCode}${Object.keys(res.trailers).length ? ' +trailers' : ''}`;
          outcomes[key] = (outcomes[key] ?? 0) + 1;
          resolve();
        });
        res.on('error', () => resolve());
      });
      req.on('error', () => {
        outcomes[`${kind} aborted`] = (outcomes[`${kind} aborted`] ?? 0) + 1;
        resolve();
      });
      req.end();
      if (kind === 'aborted') setTimeout(() => req.destroy(), 2);
    });
  const total = 10_000;
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < total) await one(next++);
    }),
  );
  // A few honoured websocket takeovers in the mix.
  for (let i = 0; i < 20; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { authorization: 'Bearer letmein' } });
    await new Promise((resolve) => ws.once('close', resolve));
  }
  // Aborted requests finish on the server a little after the client left.
  for (let i = 0; i < 200 && server.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 25));
  t.equal(server.inFlight, 0);
  t.equal(liveRegistrations(), 0, 'every registration was released');
  t.equal(outcomes['honoured 200 +trailers'], 3_000);
  t.equal(outcomes['degraded 200'], 2_000);
  t.equal(outcomes['replaced 401'], 1_000);
  t.equal(outcomes['push 200'], 1_000);
  t.equal((outcomes['fallback 426'] ?? 0) + (outcomes['fallback 200'] ?? 0), 2_000);
  t.equal(outcomes['aborted aborted'], 1_000);
  t.comment(JSON.stringify(outcomes));
});
