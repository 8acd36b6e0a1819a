import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import createError from 'http-errors';
import { ERRORS, HatchwayError, errorMessage, httpError, isHatchwayError, type ErrorCode } from '../../src/wire/errors.ts';
import { errorResponse } from '../../src/gateway/error-response.ts';

const root = new URL('../../', import.meta.url).pathname;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(path));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

t.test('every error code in src/ and adapters/ has its catalogue entry', async (t) => {
  const missing = new Set<string>();
  for (const file of [...sources('src'), ...sources('adapters')]) {
    for (const [code] of readFileSync(join(root, file), 'utf8').matchAll(/ERR_HATCHWAY_[A-Z0-9_]+/g)) {
      if (!(code in ERRORS)) missing.add(`${code} (${file})`);
    }
  }
  t.same([...missing], []);
});

t.test('the catalogue names the codes the escape rewrite reports', async (t) => {
  t.equal(ERRORS.ERR_HATCHWAY_TOKEN_LEAK.status, 500);
  t.equal(ERRORS.ERR_HATCHWAY_FALLBACK_FAILED.status, 500);
  t.equal(ERRORS.ERR_HATCHWAY_TRAILERS_REQUIRED.status, 400);
});

t.test('an entry with a status is exposed exactly when it is a client error or says so', async (t) => {
  for (const [code, entry] of Object.entries(ERRORS)) {
    if (entry.status === undefined) t.equal(entry.expose, false, `${code} has no response to expose in`);
    else t.ok(entry.status >= 400 && entry.status <= 599, `${code} has an error status`);
  }
});

t.test('httpError makes an HttpError with the status, code, message and expose of its entry', async (t) => {
  const err = httpError('ERR_HATCHWAY_BODY_TOO_LARGE', 1000);
  t.ok(createError.isHttpError(err));
  t.equal(err.status, 413);
  t.equal(err.code, 'ERR_HATCHWAY_BODY_TOO_LARGE');
  t.equal(err.expose, true);
  t.equal(err.message, 'request body larger than 1000 bytes');
  const response = errorResponse(err);
  t.equal(response.status, 413);
  t.equal(response.body, 'request body larger than 1000 bytes\n');
  const hidden = errorResponse(httpError('ERR_HATCHWAY_TOKEN_LEAK'));
  t.equal(hidden.status, 500);
  t.equal(hidden.body, 'Internal Server Error\n', 'a 5xx entry does not expose its message');
});

t.test('messages fill %s with a described value and %r with text', async (t) => {
  t.equal(errorMessage('ERR_HATCHWAY_INVALID_OPTION', 'port'), 'invalid option "port"');
  t.equal(errorMessage('ERR_HATCHWAY_BAD_PATH', 'NUL'), 'NUL in the request path');
  t.equal(new HatchwayError('ERR_HATCHWAY_INVALID_BODY', Promise.resolve()).message.startsWith('the app returned a Promise'), true);
});

t.test('isHatchwayError recognises both kinds, by code, and nothing else', async (t) => {
  t.ok(isHatchwayError(new HatchwayError('ERR_HATCHWAY_INVALID_HEADERS')));
  t.ok(isHatchwayError(httpError('ERR_HATCHWAY_BAD_PATH', 'NUL')));
  t.ok(isHatchwayError(httpError('ERR_HATCHWAY_BAD_PATH', 'NUL'), 'ERR_HATCHWAY_BAD_PATH'));
  t.notOk(isHatchwayError(httpError('ERR_HATCHWAY_BAD_PATH', 'NUL'), 'ERR_HATCHWAY_NO_AUTHORITY'));
  t.notOk(isHatchwayError(createError(400, 'x', { code: 'ERR_HATCHWAY_BAD_PATH' })), 'an unbranded HttpError');
  t.notOk(isHatchwayError(Object.assign(new Error('x'), { code: 'ERR_HATCHWAY_BAD_PATH' })));
  t.notOk(isHatchwayError(null));
  t.notOk(isHatchwayError('ERR_HATCHWAY_BAD_PATH'));
});

t.test('a second copy of the package recognises the first copy’s errors', async (t) => {
  // A query string makes the loader evaluate the module a second time: a second copy.
  const copyUrl = new URL('../../src/wire/errors.ts?copy', import.meta.url).href;
  const copy = (await import(copyUrl)) as typeof import('../../src/wire/errors.ts');
  t.not(copy.HatchwayError, HatchwayError, 'the module really was loaded twice');
  const mine = new HatchwayError('ERR_HATCHWAY_INVALID_HEADERS');
  const theirs = new copy.HatchwayError('ERR_HATCHWAY_INVALID_HEADERS');
  t.ok(copy.isHatchwayError(mine, 'ERR_HATCHWAY_INVALID_HEADERS'));
  t.ok(isHatchwayError(theirs, 'ERR_HATCHWAY_INVALID_HEADERS'));
  t.ok(isHatchwayError(copy.httpError('ERR_HATCHWAY_REQUEST_TIMEOUT'), 'ERR_HATCHWAY_REQUEST_TIMEOUT'));
  t.ok(theirs instanceof HatchwayError, 'instanceof holds across copies');
  t.ok(mine instanceof copy.HatchwayError);
  t.notOk(httpError('ERR_HATCHWAY_REQUEST_TIMEOUT') instanceof copy.HatchwayError, 'an HttpError is not a HatchwayError');
});

t.test('every code is a key of the catalogue type', async (t) => {
  const code: ErrorCode = 'ERR_HATCHWAY_ADAPTER_NEXT_TWICE';
  t.ok(ERRORS[code].message.length > 0);
});
