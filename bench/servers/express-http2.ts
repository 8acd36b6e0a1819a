// The same Express app on node:http2 (h2c) through the http2-express package, whose app
// gives HTTP/2 requests HTTP/2-aware request and response prototypes. Plain Express on
// node:http2's compatibility API crashes on the first request (it swaps in node:http
// prototypes), and http2-express-bridge 1.0.7 crashes the same way with Express 4 and 5.
import { createServer } from 'node:http2';
import express from 'express';
import http2Express from 'http2-express';
import { expressApp } from './express-app.ts';
import { portOf, ready } from './common.ts';

const app = expressApp(http2Express(express));
const server = createServer(app as unknown as Parameters<typeof createServer>[0]);
server.listen(0, '127.0.0.1', () => ready(portOf(server)));
