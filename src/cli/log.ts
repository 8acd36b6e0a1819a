/**
 * The CLI's logger: `--log-level debug|info|warning|error|critical` (default info). Info and
 * debug lines go to stdout, warnings and errors to stderr, each prefixed `hatchway: `. The
 * server's error lines (which carry the request id, SPEC §5.3) go through {@link Logger.error}.
 */
export type Level = 'debug' | 'info' | 'warning' | 'error' | 'critical';

const RANK: Record<Level, number> = { debug: 10, info: 20, warning: 30, error: 40, critical: 50 };

export interface Logger {
  readonly level: Level;
  /** Whether lines of `level` are printed. */
  enabled(level: Level): boolean;
  debug(line: string): void;
  info(line: string): void;
  warning(line: string): void;
  error(line: string): void;
}

export function createLogger(level: Level = 'info', out: (s: string) => void = (s) => void process.stdout.write(s), err: (s: string) => void = (s) => void process.stderr.write(s)): Logger {
  const on = (l: Level) => RANK[l] >= RANK[level];
  const line = (text: string) => `hatchway: ${text}\n`;
  return {
    level,
    enabled: on,
    debug: (text) => on('debug') && out(line(text)),
    info: (text) => on('info') && out(line(text)),
    warning: (text) => on('warning') && err(line(text)),
    error: (text) => on('error') && err(line(text)),
  } as Logger;
}
