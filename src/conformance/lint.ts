/**
 * `lint`: the checklist at run time, in the manner of `wsgiref.validate`. It wraps an app (or
 * a whole stack) — or, with {@link lintMiddleware}, one middleware on both of its sides — and
 * reports each broken rule with its id and hint. In development it throws a `HatchwayError`
 * (`ERR_HATCHWAY_CONFORMANCE`) at the call that broke the rule, so the request fails loudly
 * (a 500 with the rule in the error log); in production (`NODE_ENV=production`, or
 * `mode: 'log'`) it writes one line to `environ.errors` per rule per middleware, once.
 */
import { HatchwayError } from '../wire/errors.ts';
import { envVar } from '../wire/env.ts';
import type { App, Middleware } from '../gateway/types.ts';
import { ruleById, type Rule } from './rules.ts';
import { watch, watchMiddleware, type Report, type Violation } from './watch.ts';

/** Options of {@link lint} and {@link lintMiddleware}. */
export interface LintOptions {
  /** `throw` (the default unless `NODE_ENV` is `production`) or `log`. */
  mode?: 'throw' | 'log';
  /** The name in messages and in the once-per-rule bookkeeping (default: the function's name). */
  name?: string;
  /** Told of every violation (before it is thrown or logged). */
  onViolation?: (violation: LintViolation) => void;
}

/** A violation as lint reports it. */
export interface LintViolation extends Violation {
  /** Who broke it (the option `name`). */
  name: string;
  /** The id of the broken rule, `HW-RSP-01` say. */
  rule: Violation['rule'];
  /** The broken rule's title, as in docs/CHECKLIST.md. */
  title: string;
  /** What to do instead, and the helper that does it. */
  hint: string;
}

function reporter(name: string, options: LintOptions): Report {
  const mode = options.mode ?? (envVar('NODE_ENV') === 'production' ? 'log' : 'throw');
  const logged = new Set<string>();
  return (violation, environ) => {
    const rule: Rule = ruleById(violation.rule);
    const full: LintViolation = { ...violation, name, title: rule.title, hint: rule.hint };
    options.onViolation?.(full);
    const error = new HatchwayError('ERR_HATCHWAY_CONFORMANCE', `${name}: ${rule.id}`, rule.title, violation.message, rule.hint);
    if (mode === 'throw') throw error;
    if (logged.has(rule.id)) return;
    logged.add(rule.id);
    try {
      environ?.errors.write(`hatchway lint: ${error.message}`);
    } catch {
      // an error stream that throws must not fail the request
    }
  };
}

/**
 * Lints the app (or stack) it wraps: its response as its server sees it — `startResponse`
 * calls, chunks, Content-Length, bodyless statuses — and the environ it is given.
 *
 * @example
 * ```ts
 * import { compose, lint } from 'hatchway';
 *
 * // Every response of the stack is checked; in development a broken rule throws with its id.
 * export default compose(lint(), accessLog(), cors())(app);
 * // or: lint(app)
 * ```
 */
export function lint(options?: LintOptions): Middleware;
export function lint(app: App, options?: LintOptions): App;
export function lint(first?: App | LintOptions, second?: LintOptions): Middleware | App {
  if (typeof first === 'function') return lint(second)(first);
  const options = first ?? {};
  return (app: App): App => {
    const name = options.name ?? (app.name || 'app');
    return watch(app, { report: reporter(name, options), callee: true, caller: true });
  };
}

/**
 * Lints one middleware on both sides: what it passes inward (environ keys, extensions, request
 * fields, how it consumes and closes the inner body) and what it hands outward (its response,
 * header order, token responses, errors).
 *
 * @example
 * ```ts
 * import { lintMiddleware } from 'hatchway';
 *
 * const checked = lintMiddleware(myCompression(), { name: 'my-compression' });
 * export default compose(checked, router)(app);
 * ```
 */
export function lintMiddleware(middleware: Middleware, options: LintOptions = {}): Middleware {
  const name = options.name ?? (middleware.name || 'middleware');
  return watchMiddleware(middleware, { report: reporter(name, options) });
}
