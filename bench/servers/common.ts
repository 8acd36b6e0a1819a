/**
 * What every contender server shares: its config (a JSON argument from the runner), where
 * hatchway is loaded from (`--against DIR` points `BENCH_HATCHWAY_ROOT` at another checkout),
 * the TLS material, the hello body, and the one way to report readiness: the port, over IPC.
 * A contender exits when the runner disconnects (so `--cpu-prof` writes its profile).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** What the runner passes to a contender (every field optional). */
export interface ServerConfig {
  /** Serve TLS (HTTP/2 by ALPN) with the runner's self-signed certificate. */
  tls?: boolean;
  /** Serve HTTP/2 (for servers that must choose: Fastify, node:http2). */
  http2?: boolean;
  /** A size in bytes (the generated stream, the compressed payload). */
  size?: number;
  /** A file or directory (static files). */
  path?: string;
  /** A free-form variant name. */
  variant?: string;
}

export const config: ServerConfig = JSON.parse(process.argv[2] ?? '{}') as ServerConfig;

/** The body every hello contender sends. */
export const HELLO = 'Hello, world!\n';

/** The runner's certificate and key, read from the paths it puts in the environment. */
export function tlsFiles(): { key: Buffer; cert: Buffer } {
  const { BENCH_TLS_KEY, BENCH_TLS_CERT } = process.env;
  if (!BENCH_TLS_KEY || !BENCH_TLS_CERT) throw new Error('BENCH_TLS_KEY and BENCH_TLS_CERT are not set');
  return { key: readFileSync(BENCH_TLS_KEY), cert: readFileSync(BENCH_TLS_CERT) };
}

const root = process.env.BENCH_HATCHWAY_ROOT ? pathToFileURL(`${resolve(process.env.BENCH_HATCHWAY_ROOT)}/`) : new URL('../../', import.meta.url);

/** Imports a module of the hatchway checkout under test (`src/index.ts`, `middleware/cors.ts`, …). */
export function hatchway<T>(path: string): Promise<T> {
  return import(new URL(path, root).href) as Promise<T>;
}

/** Tells the runner the port; exits when the runner goes away. */
export function ready(port: number): void {
  process.send!({ port });
  process.on('disconnect', () => process.exit(0));
}

/** The port of a listening node server. */
export function portOf(server: { address(): unknown }): number {
  return (server.address() as { port: number }).port;
}
