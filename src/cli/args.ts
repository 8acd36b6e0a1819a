/**
 * Command-line parsing for `hatchway`, on `node:util`'s `parseArgs`. One table of options
 * feeds the parser, the environment (`HATCHWAY_<FLAG>`, and `PORT`), the value checks and
 * `--help`, so the help cannot drift from what is accepted.
 *
 * Precedence, highest first: the command line, `HATCHWAY_<FLAG>` (`--keep-alive-timeout` is
 * `HATCHWAY_KEEP_ALIVE_TIMEOUT`; a boolean flag takes `1`/`true`/`yes` or `0`/`false`/`no`),
 * `PORT` (for `--port` only, as Heroku, Cloud Run and most PaaS set it), the default.
 *
 * Every mistake is one line naming the flag ({@link UsageError}); the CLI prints it and exits 2.
 */
import { parseArgs } from 'node:util';

/** A bad command line: one line, naming the flag; exit status 2. */
export class UsageError extends Error {}

type Kind = 'int' | 'string' | 'boolean' | 'list';

interface OptionSpec {
  kind: Kind;
  short?: string;
  value?: string;
  /** Accepted values of a string option. */
  choices?: readonly string[];
  help: string;
}

export const SERVE_OPTIONS: Record<string, OptionSpec> = {
  host: { kind: 'string', value: 'HOST', help: 'address to listen on (default 127.0.0.1; 0.0.0.0 or :: for all)' },
  port: { kind: 'int', short: 'p', value: 'PORT', help: 'port to listen on (default $PORT, else 8000; 0 picks a free port)' },
  uds: { kind: 'string', value: 'PATH', help: 'listen on this unix domain socket instead of a TCP port' },
  fd: { kind: 'int', value: 'N', help: 'listen on an inherited, already bound socket (systemd: LISTEN_FDS is read by itself, first fd 3)' },
  backlog: { kind: 'int', value: 'N', help: 'pending connections the kernel queues (default 511)' },
  workers: { kind: 'int', short: 'w', value: 'N', help: 'worker processes sharing the port (default 1: no workers, one process)' },
  'max-requests': { kind: 'int', value: 'N', help: 'a worker that served N requests is replaced gracefully (default 0 = never; runs a supervisor)' },
  'max-requests-jitter': { kind: 'int', value: 'N', help: 'add 0..N at random to --max-requests per worker, so they do not all restart at once (default 0)' },
  'graceful-timeout': { kind: 'int', value: 'MS', help: 'on SIGINT/SIGTERM, SIGHUP, --max-requests or --reload, wait up to MS for requests in flight (default 30000)' },
  reload: { kind: 'boolean', help: 'development: restart the workers gracefully when a file under the module\'s directory changes' },
  'access-log': { kind: 'string', value: '-|FILE|off', help: "one line per request: '-' stdout (default), a file to append to, or off" },
  'access-log-format': { kind: 'string', value: 'FORMAT', choices: ['common', 'combined', 'json'], help: 'common (default), combined or json (with request id, duration, escape)' },
  'log-level': { kind: 'string', value: 'LEVEL', choices: ['debug', 'info', 'warning', 'error', 'critical'], help: 'info (default) prints startup, shutdown and worker lines; warning and up only problems' },
  'proxy-headers': { kind: 'boolean', help: 'believe Forwarded / X-Forwarded-* from the peers --forwarded-allow-ips trusts' },
  'forwarded-allow-ips': { kind: 'list', value: 'LIST', help: "comma-separated addresses, CIDRs or loopback/linklocal/uniquelocal trusted for --proxy-headers (default 127.0.0.1,::1; '*' trusts all)" },
  'root-path': { kind: 'string', value: 'PATH', help: 'the app is mounted at PATH behind a proxy: it becomes scriptName, and is taken off pathInfo when present' },
  'limit-concurrency': { kind: 'int', value: 'N', help: 'answer 503 to requests beyond N in flight in a process (default 0 = no limit)' },
  'tls-cert': { kind: 'string', value: 'FILE', help: 'PEM certificate: TLS on the port too, h2 or http/1.1 by ALPN (needs --tls-key)' },
  'tls-key': { kind: 'string', value: 'FILE', help: 'PEM private key for --tls-cert' },
  'no-cleartext': { kind: 'boolean', help: 'with --tls-cert: refuse cleartext HTTP/1.1 and h2c on the port' },
  'keep-alive-timeout': { kind: 'int', value: 'MS', help: 'close idle keep-alive connections after MS (default 5000)' },
  'headers-timeout': { kind: 'int', value: 'MS', help: 'time a client has to send request headers (default 30000)' },
  'request-timeout': { kind: 'int', value: 'MS', help: 'time a client has to send a whole request (default 300000; 0 = none)' },
  'response-timeout': { kind: 'int', value: 'MS', help: 'the app must start its response, and never stall between writes, for longer than MS: 504 or abort (default 60000; 0 = none)' },
  'send-timeout': { kind: 'int', value: 'MS', help: 'a client that takes no bytes of a response for MS is cut off (default 60000; 0 = none)' },
  'max-header-size': { kind: 'int', value: 'BYTES', help: 'largest request header block; larger gets 431 (default 16384)' },
  'preface-timeout': { kind: 'int', value: 'MS', help: 'a connection must show its protocol within MS (default 10000)' },
  'max-concurrent-streams': { kind: 'int', value: 'N', help: 'HTTP/2 streams open at once per connection (default 100)' },
  'session-idle-timeout': { kind: 'int', value: 'MS', help: 'GOAWAY to an HTTP/2 connection idle for MS (default 60000; 0 = never)' },
  'max-session-memory': { kind: 'int', value: 'MB', help: 'memory nghttp2 may hold per HTTP/2 connection (default 10)' },
  'no-websocket-over-http2': { kind: 'boolean', help: 'do not advertise RFC 8441 (websockets then use HTTP/1.1)' },
  'ws-max-payload': { kind: 'int', value: 'BYTES', help: 'largest websocket message; larger closes with 1009 (default 4194304)' },
  'ws-ping-interval': { kind: 'int', value: 'MS', help: 'ping every websocket every MS; no pong within as long drops it (default 20000; 0 = never)' },
  'ws-idle-timeout': { kind: 'int', value: 'MS', help: 'close a websocket with no message either way for MS (default 0 = never)' },
  help: { kind: 'boolean', short: 'h', help: 'show this help' },
};

export const CHECK_OPTIONS: Record<string, { type: 'string' | 'boolean'; short?: string; value?: string; multiple?: boolean; help: string }> = {
  options: { type: 'string', value: 'JSON', help: 'the export is a factory: call it with these options (JSON) to get the middleware' },
  factory: { type: 'boolean', help: 'the export is a factory: call it with no options to get the middleware' },
  header: { type: 'string', value: "'NAME: VALUE'", multiple: true, help: 'add this field to every probe request (repeatable), e.g. an authorization an auth gate wants' },
  rule: { type: 'string', value: 'ID', multiple: true, help: 'check only this rule (repeatable), e.g. HW-ESC-02' },
  json: { type: 'boolean', help: 'print the report as JSON' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

const row = (name: string, o: { short?: string; value?: string; help: string }) => {
  const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`;
  return `  ${flag.padEnd(30)} ${o.help}`;
};
const table = (options: Record<string, { short?: string; value?: string; help: string }>) =>
  Object.entries(options)
    .map(([name, o]) => row(name, o))
    .join('\n');

export const CHECK_USAGE = `Usage: hatchway check <module>[#export] [options]

Checks a middleware against the hatchway checklist (docs/CHECKLIST.md): drives it with probe
apps in memory, on the real runner and the real escape recognition, and prints one line per
rule (id, title, verdict, evidence), then the evidence, a reproduction and a hint for each
failing rule, and the escape grade (escape-safe, escape-aware, unsafe).

<module> is an ESM .js or .ts file; the middleware is its default export, or the export named
after '#'. An export that is a factory is called first — with --options, with no options
under --factory, or with none when calling it with an app gives back a one-parameter function.
A module without '#export' that exports \`conformance: { name, make(), options? }[]\` (the
bundled-middleware convention of docs/CONFORMANCE.md) is checked once per entry.

Exit status: 0 when every rule passes (or does not apply), 1 when a rule fails, 2 when the
module cannot be loaded or has no middleware.

Options:
${table(CHECK_OPTIONS)}

Examples:
  hatchway check middleware/cors.ts
  hatchway check my-gzip.ts#gzip --options '{"level":6}' --json
  hatchway check auth.ts --header 'authorization: Bearer t0ken'
`;

export const USAGE = `Usage: hatchway serve <module>[#export|:export] [options]
       hatchway check <module>[#export] [--options JSON] [--json]   (hatchway check --help)
       hatchway --help | --version

Serves a hatchway app. <module> is an ESM .js or .ts file; the app is its default export,
or the export named after '#' or ':' (app.ts#api, app.ts:api). On SIGINT or SIGTERM the
server stops accepting, finishes requests in flight (up to --graceful-timeout) and exits 0.
With --workers, --max-requests or --reload a supervisor runs the workers: one that dies while
serving is replaced (with backoff), SIGHUP replaces them one at a time, and a worker that
fails to boot stops the start with its error.

Every option can also come from the environment as HATCHWAY_<OPTION> (--max-requests is
HATCHWAY_MAX_REQUESTS; booleans take 1/0), and the port from PORT; the command line wins,
then HATCHWAY_*, then PORT.

Options:
${table(SERVE_OPTIONS)}
  ${'    --version'.padEnd(30)} print the version

Exit status: 0 after a graceful stop; 1 when the app cannot be loaded or served (its error on
stderr); 2 for a bad command line (one line naming the option).

Examples:
  hatchway serve examples/hello.ts --port 8000
  hatchway serve app.ts:api --workers 4 --max-requests 10000 --max-requests-jitter 500
  hatchway serve app.ts --uds /run/app.sock --proxy-headers --access-log-format json
  PORT=3000 hatchway serve app.mjs --reload
`;

/** The parsed command line, with the environment folded in. */
export interface Command {
  command: 'serve' | 'check' | 'help' | 'check-help' | 'version' | 'usage';
  target?: string;
  values: Record<string, string | boolean | string[] | undefined>;
}

/** `--keep-alive-timeout` → `HATCHWAY_KEEP_ALIVE_TIMEOUT`. */
export const envName = (flag: string): string => `HATCHWAY_${flag.toUpperCase().replace(/-/g, '_')}`;

/** parseArgs's messages, in one line that names the flag. */
function parseError(err: unknown): UsageError {
  const e = err as { code?: string; message: string };
  const flag = /'(?:-\w, )?(--?[^' ]+)/.exec(e.message)?.[1];
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return new UsageError(`unknown option '${flag ?? e.message}' (hatchway --help lists them)`);
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (/argument missing/.test(e.message)) return new UsageError(`${flag} needs a value`);
    return new UsageError(`${flag ?? 'an option'} takes no value`);
  }
  return new UsageError(e.message.split('\n')[0]!);
}

function fromEnv(env: NodeJS.ProcessEnv): Record<string, string | boolean | undefined> {
  const values: Record<string, string | boolean | undefined> = {};
  for (const [name, spec] of Object.entries(SERVE_OPTIONS)) {
    if (name === 'help') continue;
    const raw = env[envName(name)];
    if (raw === undefined || raw === '') continue;
    if (spec.kind === 'boolean') {
      if (/^(1|true|yes|on)$/i.test(raw)) values[name] = true;
      else if (!/^(0|false|no|off)$/i.test(raw)) throw new UsageError(`${envName(name)} (--${name}) takes 1 or 0, not '${raw}'`);
    } else values[name] = raw;
  }
  if (values.port === undefined && env.PORT !== undefined && env.PORT !== '') values.port = env.PORT;
  return values;
}

/** Checks every value against its kind and choices: one line naming the flag. */
function validate(values: Command['values'], sources: Record<string, string>): void {
  for (const [name, spec] of Object.entries(SERVE_OPTIONS)) {
    const raw = values[name];
    if (raw === undefined || typeof raw === 'boolean') continue;
    const where = sources[name] ?? `--${name}`;
    if (spec.kind === 'int' && (typeof raw !== 'string' || !/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw)))) throw new UsageError(`${where} takes a whole number, not '${String(raw)}'`);
    if (spec.choices && !spec.choices.includes(raw as string)) throw new UsageError(`${where} takes ${spec.choices.join(', ')}, not '${String(raw)}'`);
    if (spec.kind === 'string' && raw === '') throw new UsageError(`${where} needs a value`);
  }
  if (values.port !== undefined && Number(values.port) > 65535) throw new UsageError(`${sources.port ?? '--port'} takes 0 to 65535, not '${String(values.port)}'`);
  if (values.workers !== undefined && Number(values.workers) < 1) throw new UsageError(`${sources.workers ?? '--workers'} takes 1 or more, not '${String(values.workers)}'`);
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) throw new UsageError('--tls-cert and --tls-key go together');
  if (values['no-cleartext'] && !values['tls-cert']) throw new UsageError('--no-cleartext needs --tls-cert and --tls-key: the port would accept nothing');
  const places = ['uds', 'fd'].filter((n) => values[n] !== undefined);
  if (places.length > 1) throw new UsageError('--uds and --fd are two places to listen: give one');
  if (values['root-path'] !== undefined && !/^\/.*[^/]$/.test(values['root-path'] as string)) throw new UsageError(`${sources['root-path'] ?? '--root-path'} takes a path like /api (a leading '/', no trailing one), not '${String(values['root-path'])}'`);
  if (values['forwarded-allow-ips'] !== undefined && !values['proxy-headers']) throw new UsageError('--forwarded-allow-ips needs --proxy-headers');
}

/**
 * Parses argv (without `node` and the script) and the environment; throws a
 * {@link UsageError} — one line naming the flag — for anything it cannot take.
 */
export function parseCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Command {
  if (argv.length === 0) return { command: 'usage', values: {} };
  if (argv.includes('--version')) return { command: 'version', values: {} };
  if (argv[0] === 'check') return parseCheck(argv.slice(1));
  const options = Object.fromEntries(
    Object.entries(SERVE_OPTIONS).map(([name, o]) => [name, { type: o.kind === 'boolean' ? ('boolean' as const) : ('string' as const), ...(o.short ? { short: o.short } : {}) }]),
  );
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw parseError(err);
  }
  const { values: cli, positionals } = parsed;
  if (cli.help) return { command: 'help', values: cli };
  if (positionals.length === 0) return { command: 'usage', values: {} };
  const [command, target, ...rest] = positionals;
  if (command !== 'serve') throw new UsageError(`unknown command '${command}': try 'hatchway serve <module>'`);
  if (!target) throw new UsageError("'hatchway serve' needs a module: hatchway serve app.ts");
  if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}' (one module per server)`);
  const env_ = fromEnv(env);
  const sources: Record<string, string> = {};
  for (const name of Object.keys(env_)) if (!(name in cli)) sources[name] = name === 'port' && env[envName('port')] === undefined ? 'PORT' : envName(name);
  const values: Command['values'] = { ...env_, ...cli };
  validate(values, sources);
  return { command: 'serve', target, values };
}

/** Parses a non-negative integer option, or returns `undefined` when absent. */
export function intOption(values: Command['values'], name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || !Number.isSafeInteger(n)) throw new UsageError(`--${name} takes a whole number, not '${String(raw)}'`);
  return n;
}

/** Splits `module#export` or `module:export` (the colon only after the last `/`). */
export function splitTarget(spec: string): { file: string; name: string } {
  const hash = spec.lastIndexOf('#');
  if (hash !== -1) return { file: spec.slice(0, hash), name: spec.slice(hash + 1) || 'default' };
  const colon = spec.lastIndexOf(':');
  if (colon > spec.lastIndexOf('/') && colon > 1) return { file: spec.slice(0, colon), name: spec.slice(colon + 1) || 'default' };
  return { file: spec, name: 'default' };
}

function parseCheck(argv: string[]): Command {
  const options = Object.fromEntries(
    Object.entries(CHECK_OPTIONS).map(([name, o]) => [name, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }]),
  );
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw parseError(err);
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: 'check-help', values: {} };
  const [target, ...rest] = positionals;
  if (!target) throw new UsageError("'hatchway check' needs a module: hatchway check my-middleware.ts");
  if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
  return { command: 'check', target, values: values as Command['values'] };
}
