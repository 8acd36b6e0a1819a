import t from 'tap';
import { readFileSync } from 'node:fs';
import { SPEC, withTable } from '../../scripts/spec-table.ts';
import { HatchwayError } from '../../src/index.ts';
import { DEGRADE } from '../../src/escapes/degrade.ts';
import { TOKEN_LENGTH } from '../../src/escapes/registry.ts';

t.test('SPEC.md renders the degrade table exactly as the code has it', async (t) => {
  const spec = readFileSync(SPEC, 'utf8');
  t.equal(spec, withTable(spec), 'run `npm run spec:table` after changing src/escapes/degrade.ts');
});

t.test('every error code thrown by the escape sink is documented in SPEC.md', async (t) => {
  const spec = readFileSync(SPEC, 'utf8');
  for (const code of [
    'ERR_HATCHWAY_TRAILERS_REQUIRED',
    'ERR_HATCHWAY_TOKEN_NOT_ISSUED',
    'ERR_HATCHWAY_INVALID_TRAILER',
    'ERR_HATCHWAY_WS_BACKLOG',
    'ERR_HATCHWAY_TOO_MANY_ESCAPES',
    'ERR_HATCHWAY_TOKEN_LEAK',
    'ERR_HATCHWAY_FALLBACK_FAILED',
    'ERR_HATCHWAY_CONNECT_NOT_ESCAPE',
  ]) {
    t.ok(spec.includes(code), code);
    t.ok(new HatchwayError(code as never).message.length > 0);
  }
});

t.test("SPEC §7 states the rules a second server needs, in the code's terms", async (t) => {
  const spec = readFileSync(SPEC, 'utf8');
  const section = (n: string) => spec.slice(spec.indexOf(`### ${n}`), spec.indexOf('###', spec.indexOf(`### ${n}`) + 4));
  const recognition = section('7.3');
  t.match(recognition, /until it has more than `TOKEN_LENGTH` bytes[\s\S]*or the body ends/, 'the hold rule, in terms of the token length');
  t.notMatch(spec, /until it has 28 bytes/, 'not the old off-by-one wording');
  t.match(spec, new RegExp(`TOKEN_LENGTH\` = ${TOKEN_LENGTH}`), 'TOKEN_LENGTH as the code has it');
  t.match(recognition, /control-value = OWS kind 1\*SP token OWS/, 'the control-field grammar');
  t.match(recognition, /matched in any case/, 'the name case');
  t.match(recognition, /One body claim per response/);
  t.match(recognition, /\*\*`answered`\*\*/, 'the answered situation');
  t.match(recognition, /A fallback carries the chain's fields/, 'the fallback-field rule');
  t.match(recognition, /`ERR_HATCHWAY_FALLBACK_FAILED`/, 'how a nested fallback fails');
  t.match(section('7.2'), /One order on every\s+protocol/, 'one release order');
  t.match(section('7.2'), /carries the last `TOKEN_LENGTH − 1`\s+bytes/, 'the carry of the body scan');
  t.match(section('7.7'), /HTTP\/2 when the client turned push off/, '103 over HTTP/2 as §2.6 and the code have it');
  t.match(spec, /## 11\. Writing a host/);
  for (const row of Object.keys(DEGRADE)) t.match(section('7.4'), new RegExp(`\\| ${row} \\|`), `row ${row} rendered`);
});
