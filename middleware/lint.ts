/**
 * `hatchway/middleware/lint` — the conformance checklist at run time (docs/CHECKLIST.md), as a
 * bundled middleware: `lint()` wraps the stack below it and reports each broken rule with its
 * id and hint; `lintMiddleware(mw)` checks one middleware on both of its sides. Development
 * throws (`ERR_HATCHWAY_CONFORMANCE`, a 500 naming the rule); production (`NODE_ENV=production`
 * or `mode: 'log'`) writes one line per rule per middleware to `environ.errors`.
 *
 * Built only on the public entry point, like every bundled middleware.
 *
 * @example
 * ```ts
 * import { compose } from 'hatchway';
 * import lint, { lintMiddleware } from 'hatchway/middleware/lint';
 *
 * export default compose(lint({ name: 'stack' }), lintMiddleware(myCompression(), { name: 'compression' }))(app);
 * ```
 *
 * @module
 */
import { lint, lintMiddleware, type LintOptions, type Middleware } from '../src/index.ts';
import type { ConformanceEntry } from '../src/index.ts';

export { lint, lintMiddleware, type LintOptions };

/** The lint middleware: `lint(options)`. */
export default function lintFactory(options: LintOptions = {}): Middleware {
  return lint(options);
}

/** For `npm run conformance` and `hatchway check` (docs/CONFORMANCE.md): lint itself must pass the checklist. */
export const conformance: ConformanceEntry[] = [{ name: 'lint', make: (): Middleware => lint({ mode: 'log', name: 'lint' }) }];
