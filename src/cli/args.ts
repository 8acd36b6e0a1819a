/**
 * Command-line parsing for `hatchway`, on `node:util`'s `parseArgs`. One table of options
 * feeds both the parser and `--help`, so the help cannot drift from what is accepted.
 */
import { parseArgs } from 'node:util';

interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  value?: string;
  help: string;
}

export const SERVE_OPTIONS: Record<string, OptionSpec> = {
  host: { type: 'string', value: 'HOST', help: 'address to listen on (default 127.0.0.1; 0.0.0.0 or :: for all)' },
  port: { type: 'string', short: 'p', value: 'PORT', help: 'port to listen on (default 8000; 0 picks a free port)' },
  workers: { type: 'string', short: 'w', value: 'N', help: 'worker processes sharing the port (default 1: no workers, one process)' },
  'tls-cert': { type: 'string', value: 'FILE', help: 'PEM certificate: TLS on the port too, h2 or http/1.1 by ALPN (needs --tls-key)' },
  'tls-key': { type: 'string', value: 'FILE', help: 'PEM private key for --tls-cert' },
  'keep-alive-timeout': { type: 'string', value: 'MS', help: 'close idle keep-alive connections after MS (default 5000)' },
  'headers-timeout': { type: 'string', value: 'MS', help: 'time a client has to send request headers (default 30000)' },
  'request-timeout': { type: 'string', value: 'MS', help: 'time a client has to send a whole request (default 300000; 0 = none)' },
  'response-timeout': { type: 'string', value: 'MS', help: 'the app must start its response, and never stall between writes, for longer than MS: 504 or abort (default 60000; 0 = none)' },
  'send-timeout': { type: 'string', value: 'MS', help: 'a client that takes no bytes of a response for MS is cut off (default 60000; 0 = none)' },
  'max-header-size': { type: 'string', value: 'BYTES', help: 'largest request header block; larger gets 431 (default 16384)' },
  'graceful-timeout': { type: 'string', value: 'MS', help: 'on SIGINT/SIGTERM, wait up to MS for requests in flight (default 30000)' },
  'no-cleartext': { type: 'boolean', help: 'with --tls-cert: refuse cleartext HTTP/1.1 and h2c on the port' },
  'preface-timeout': { type: 'string', value: 'MS', help: 'a connection must show its protocol within MS (default 10000)' },
  'max-concurrent-streams': { type: 'string', value: 'N', help: 'HTTP/2 streams open at once per connection (default 100)' },
  'session-idle-timeout': { type: 'string', value: 'MS', help: 'GOAWAY to an HTTP/2 connection idle for MS (default 60000; 0 = never)' },
  'max-session-memory': { type: 'string', value: 'MB', help: 'memory nghttp2 may hold per HTTP/2 connection (default 10)' },
  'no-websocket-over-http2': { type: 'boolean', help: 'do not advertise RFC 8441 (websockets then use HTTP/1.1)' },
  'ws-max-payload': { type: 'string', value: 'BYTES', help: 'largest websocket message; larger closes with 1009 (default 4194304)' },
  'ws-ping-interval': { type: 'string', value: 'MS', help: 'ping every websocket every MS; no pong within as long drops it (default 20000; 0 = never)' },
  'ws-idle-timeout': { type: 'string', value: 'MS', help: 'close a websocket with no message either way for MS (default 0 = never)' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

export const CHECK_OPTIONS: Record<string, OptionSpec & { multiple?: boolean }> = {
  options: { type: 'string', value: 'JSON', help: 'the export is a factory: call it with these options (JSON) to get the middleware' },
  factory: { type: 'boolean', help: 'the export is a factory: call it with no options to get the middleware' },
  header: { type: 'string', value: "'NAME: VALUE'", multiple: true, help: 'add this field to every probe request (repeatable), e.g. an authorization an auth gate wants' },
  rule: { type: 'string', value: 'ID', multiple: true, help: 'check only this rule (repeatable), e.g. HW-ESC-02' },
  json: { type: 'boolean', help: 'print the report as JSON' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

const table = (options: Record<string, OptionSpec>) =>
  Object.entries(options)
    .map(([name, o]) => {
      const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`;
      return `  ${flag.padEnd(30)} ${o.help}`;
    })
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

export const USAGE = `Usage: hatchway serve <module>[#export] [options]
       hatchway check <module>[#export] [--options JSON] [--json]   (hatchway check --help)
       hatchway --help | --version

Serves a hatchway app. <module> is an ESM .js or .ts file; the app is its default export,
or the export named after '#' (e.g. app.ts#api). On SIGINT or SIGTERM the server stops
accepting, finishes requests in flight (up to --graceful-timeout) and exits 0.

Options:
${Object.entries(SERVE_OPTIONS)
  .map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`;
    return `  ${flag.padEnd(30)} ${o.help}`;
  })
  .join('\n')}
  ${'    --version'.padEnd(30)} print the version

Example:
  hatchway serve examples/hello.ts --port 8000
`;

/** The parsed command line. */
export interface Command {
  command: 'serve' | 'check' | 'help' | 'check-help' | 'version';
  target?: string;
  values: Record<string, string | boolean | string[] | undefined>;
}

/** Parses argv (without `node` and the script); throws a TypeError with a usage hint. */
export function parseCommand(argv: string[]): Command {
  if (argv.includes('--version')) return { command: 'version', values: {} };
  if (argv[0] === 'check') return parseCheck(argv.slice(1));
  const options = Object.fromEntries(
    Object.entries(SERVE_OPTIONS).map(([name, o]) => [name, o.short ? { type: o.type, short: o.short } : { type: o.type }]),
  );
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  if (values.help || positionals.length === 0) return { command: 'help', values };
  const [command, target, ...rest] = positionals;
  if (command !== 'serve') throw new TypeError(`unknown command '${command}': try 'hatchway serve <module>'`);
  if (!target) throw new TypeError("'hatchway serve' needs a module: hatchway serve app.ts");
  if (rest.length) throw new TypeError(`unexpected argument '${rest[0]}'`);
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) throw new TypeError('--tls-cert and --tls-key go together');
  if (values['no-cleartext'] && !values['tls-cert']) throw new TypeError('--no-cleartext needs --tls-cert and --tls-key: the port would accept nothing');
  return { command: 'serve', target, values };
}

/** Parses a non-negative integer option, or returns `undefined` when absent. */
export function intOption(values: Command['values'], name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || !Number.isSafeInteger(n)) throw new TypeError(`--${name} takes a whole number, not '${String(raw)}'`);
  return n;
}

function parseCheck(argv: string[]): Command {
  const options = Object.fromEntries(
    Object.entries(CHECK_OPTIONS).map(([name, o]) => [name, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }]),
  );
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  if (values.help) return { command: 'check-help', values: {} };
  const [target, ...rest] = positionals;
  if (!target) throw new TypeError("'hatchway check' needs a module: hatchway check my-middleware.ts");
  if (rest.length) throw new TypeError(`unexpected argument '${rest[0]}'`);
  return { command: 'check', target, values: values as Command['values'] };
}
