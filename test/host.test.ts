import t from 'tap';
import { readFileSync } from 'node:fs';
import * as host from '../src/host.ts';

t.test('hatchway/host exports what a second server, an adapter or a checker builds on', async (t) => {
  for (const name of [
    'run', 'ResponseState', 'PullBodyReader', 'StreamBodyReader', 'whenDrained', 'errorResponse', 'formatError',
    'installEscapes', 'EscapeSink', 'DEGRADE', 'BODY_KINDS', 'OUTCOMES', 'degrade', 'renderDegradeTable',
    'ERRORS', 'ERROR_BRAND', 'HatchwayError', 'httpError', 'isHatchwayError', 'errorMessage',
    'splitTarget', 'decodePath', 'nextRequestId', 'CONNECTION_SPECIFIC', 'SINGLE_VALUE_FIELDS', 'toHeaderObject',
  ]) t.ok(name in host, name);
});

t.test('package.json, typedoc and the build publish hatchway/host', async (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  t.same(pkg.exports['./host'], { types: './dist/src/host.d.ts', default: './dist/src/host.js' });
  const typedoc = JSON.parse(readFileSync(new URL('../typedoc.json', import.meta.url), 'utf8'));
  t.ok(typedoc.entryPoints.includes('src/host.ts'));
});
