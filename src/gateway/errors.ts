/**
 * The error catalogue lives below every layer, in `src/wire/errors.ts`; this path re-exports
 * it for the modules that still import it here.
 *
 * @module
 */
export { HatchwayError, type ErrorCode } from '../wire/errors.ts';
