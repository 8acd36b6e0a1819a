import t from 'tap';
import { readFileSync } from 'node:fs';
import { SPEC, withTable } from '../../scripts/spec-table.ts';
import { HatchwayError } from '../../src/index.ts';

t.test('SPEC.md renders the degrade table exactly as the code has it', async (t) => {
  const spec = readFileSync(SPEC, 'utf8');
  t.equal(spec, withTable(spec), 'run `npm run spec:table` after changing src/escapes/degrade.ts');
});

t.test('every error code thrown by the escape sink is documented in SPEC.md', async (t) => {
  const spec = readFileSync(SPEC, 'utf8');
  for (const code of ['ERR_HATCHWAY_TRAILERS_REQUIRED', 'ERR_HATCHWAY_TOKEN_NOT_ISSUED', 'ERR_HATCHWAY_INVALID_TRAILER', 'ERR_HATCHWAY_WS_BACKLOG', 'ERR_HATCHWAY_TOO_MANY_ESCAPES']) {
    t.ok(spec.includes(code), code);
    t.ok(new HatchwayError(code as never).message.length > 0);
  }
});
