/**
 * The process environment, read where the runtime has one.
 *
 * @module
 */

/**
 * The environment variable `name`, or `undefined` where the runtime has no `process.env`
 * (workerd without Node compatibility) or does not let this code read it (Deno without
 * `--allow-env`). Read once, when a middleware is made, never per request.
 *
 * @example
 * ```ts
 * import { envVar } from 'hatchway/host';
 *
 * const development = envVar('NODE_ENV') === 'development';
 * ```
 */
export function envVar(name: string): string | undefined {
  try {
    return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
  } catch {
    return undefined;
  }
}
