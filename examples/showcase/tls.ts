/**
 * `npm run start:tls`: the showcase with TLS on the same port, so a browser gets HTTP/2 (ALPN)
 * and RFC 8441 websockets at https://localhost:8000, while http://127.0.0.1:8000 still takes
 * HTTP/1.1 and h2c. A self-signed certificate for localhost and 127.0.0.1 is made with
 * `openssl` at start (in a temporary directory, removed at exit); the browser will ask you to
 * accept it. Extra arguments go to `hatchway serve` (`--port 8443`, `--workers 2`, …).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = mkdtempSync(join(tmpdir(), 'hatchway-showcase-tls-'));
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');
execFileSync(
  'openssl',
  ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '30', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
  { stdio: 'ignore' },
);

const cli = fileURLToPath(new URL('../../bin/hatchway.js', import.meta.url));
const app = fileURLToPath(new URL('./app.ts', import.meta.url));
const child = spawn(process.execPath, [cli, 'serve', app, '--tls-cert', cert, '--tls-key', key, ...process.argv.slice(2)], { stdio: 'inherit' });
// Ctrl-C reaches the child through the process group; SIGTERM is passed on.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => {
  rmSync(dir, { recursive: true, force: true });
  process.exit(code ?? (signal ? 1 : 0));
});
