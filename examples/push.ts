// Push with the preload fallback: associate() pushes /style.css where the client allows push
// (nghttp over h2c), and otherwise sends 103 Early Hints plus `Link: </style.css>; rel=preload`
// — what every browser gets today (Chrome removed push in 106).
//   hatchway serve examples/push.ts
//   nghttp -nv http://127.0.0.1:8000/ | grep PUSH_PROMISE   |   curl -si http://127.0.0.1:8000/
import { associate, type App } from '../src/index.ts';

const page: App = (environ, startResponse) => {
  startResponse(200, [['content-type', 'text/html; charset=utf-8'], ...associate(environ, [{ path: '/style.css', as: 'style' }])]);
  return ['<!doctype html><link rel="stylesheet" href="/style.css"><h1>pushed or preloaded</h1>\n'];
};

const css: App = (_environ, startResponse) => {
  startResponse(200, [['content-type', 'text/css']]);
  return ['h1 { color: teal }\n'];
};

// The pushed response is produced by the same app (and any middleware in front of it).
const app: App = (environ, startResponse) => (environ.pathInfo === '/style.css' ? css : page)(environ, startResponse);

export default app;
