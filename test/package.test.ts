/**
 * The package as a user gets it: `npm pack` (which builds dist/ through `prepack`), then a
 * fresh project outside the checkout installs the tarball with `typescript` and `@types/node`
 * only, and there:
 * - `tsc --strict` (no skipLibCheck) passes on a TypeScript consumer of every entry point, so
 *   the declarations need no @types the package does not bring (`@types/ws`: TS7016 before);
 * - `import` and `require` both work (require(esm), Node 22.12+, which `engines` says);
 * - `npx hatchway serve app.mjs` answers curl, from the built dist/;
 * - the tarball has a LICENSE and no generated docs/api.
 * Needs the npm registry; skipped, saying so, when it cannot be reached. Bounded: about a
 * minute with a warm npm cache (the build is most of it).
 */
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { curl } from './fixtures/clients.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'node_modules', '.bin');
// npm and npx run on the pinned Node, as the tests do.
const env = { ...process.env, PATH: `${BIN}:${process.env.PATH}`, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };

t.setTimeout(200_000);

const reachable = await run('npm', ['view', 'typescript', 'version'], { env, timeout: 20_000 }).then(
  () => true,
  () => false,
);

t.test('the packed tarball installs and works in a fresh project', { skip: reachable ? false : 'the npm registry is not reachable from here' }, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'hatchway-pack-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const { stdout: packed } = await run('npm', ['pack', '--pack-destination', work, '--json', '--loglevel=error'], { cwd: ROOT, env, timeout: 120_000, maxBuffer: 32 * 1024 * 1024 });
  const info = JSON.parse(packed.slice(packed.indexOf('[')))[0] as { filename: string; files: { path: string }[] };
  const files = info.files.map((f) => f.path);
  t.ok(files.includes('LICENSE'), 'LICENSE is in the tarball');
  t.notOk(files.some((f) => f.startsWith('docs/api')), 'no generated docs/api');
  t.notOk(files.some((f) => f.startsWith('dist/test') || f.endsWith('.pem')), 'no built tests, no keys');
  t.ok(files.includes('dist/src/server/index.d.ts') && files.includes('dist/src/cli/main.js'), 'the build is in it');

  const app = join(work, 'consumer');
  await mkdir(app);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await run('npm', ['install', '--no-save', '--loglevel=error', join(work, info.filename), 'typescript@5', '@types/node@24'], { cwd: app, env, timeout: 150_000, maxBuffer: 32 * 1024 * 1024 });
  t.same((await readdir(join(app, 'node_modules', '@types'))).sort(), ['http-errors', 'node', 'ws'], 'the only @types: @types/node, and those hatchway brings (ws, http-errors)');

  await writeFile(
    join(app, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2023', noEmit: true, skipLibCheck: false }, include: ['*.ts'] }),
  );
  await writeFile(
    join(app, 'consumer.ts'),
    `import { compose, type App } from 'hatchway';
import { createServer, serve, Server, type ServerOptions } from 'hatchway/server';
import { accessLog } from 'hatchway/middleware/access-log';
import { proxyHeaders } from 'hatchway/middleware/proxy-headers';
import { fromNodeListener } from 'hatchway/adapters/node';
import { request } from 'hatchway/testing';
import { worker, type Worker } from 'hatchway/host/workerd';

const app: App = (environ, startResponse) => {
  startResponse(200, [['content-type', 'text/plain']]);
  return ['hi ' + environ.pathInfo];
};
const options: ServerOptions = { port: 0 };
const stack = compose(accessLog(), proxyHeaders({ trust: 'loopback' }))(app);
const node = createServer(stack).listen(0, () => node.close());
// A net.Server to TypeScript, so @types/supertest's request(app) takes it.
const asNet: import('node:net').Server = createServer(app);
void asNet;
const later: Promise<Server> = serve(fromNodeListener((_req, res) => res.end('x')), options);
void later;
void request(app, { path: '/' });
const asWorker: Worker<{ KEY: string }> = worker(app);
void asWorker;
`,
  );
  const tsc = await run(join(app, 'node_modules', '.bin', 'tsc'), ['-p', app], { cwd: app, env, timeout: 60_000 }).then(
    () => '',
    (err: { stdout?: string }) => err.stdout ?? String(err),
  );
  t.equal(tsc, '', 'tsc --strict passes on the consumer');

  await writeFile(join(app, 'esm.mjs'), "import { compose } from 'hatchway';\nimport { createServer } from 'hatchway/server';\nconsole.log(typeof compose, typeof createServer);\n");
  await writeFile(join(app, 'cjs.cjs'), "const { compose } = require('hatchway');\nconst { createServer } = require('hatchway/server');\nconsole.log(typeof compose, typeof createServer);\n");
  t.equal((await run(process.execPath, ['esm.mjs'], { cwd: app, env })).stdout, 'function function\n', 'import works');
  t.equal((await run(process.execPath, ['cjs.cjs'], { cwd: app, env })).stdout, 'function function\n', 'require works');

  await writeFile(join(app, 'app.mjs'), "export default (environ, startResponse) => {\n  startResponse(200, [['content-type', 'text/plain']]);\n  return ['hello from the tarball ' + environ.pathInfo + '\\n'];\n};\n");
  const child = spawn('npx', ['--no-install', 'hatchway', 'serve', 'app.mjs', '--port', '0'], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  t.teardown(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  });
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const url = await new Promise<string | undefined>((resolve) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /serving app\.mjs on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', () => resolve(undefined));
    setTimeout(() => resolve(undefined), 20_000);
  });
  t.ok(url, `npx hatchway serve started (${out}${err})`);
  if (!url) return;
  const res = await curl(t, ['-sS', `${url}/curl`]);
  t.equal(res.stdout, 'hello from the tarball /curl\n', 'it answers curl');
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  process.kill(-child.pid!, 'SIGTERM');
  await exited;
  t.match(out, /hatchway: stopped\n/, 'SIGTERM stops it gracefully');
});
