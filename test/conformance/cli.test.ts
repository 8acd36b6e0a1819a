/**
 * `hatchway check`, spawned as a real CLI process: it names each broken rule of deliberately
 * broken middleware (one fixture per rule class of issue 10) and passes the well-behaved ones.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = 'bin/hatchway.js';

function check(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, 'check', ...args], { cwd: root, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const failLine = (stdout: string, id: string) => new RegExp(`^${id} .* FAIL {4}`, 'm').test(stdout);

// fixture → the rules it breaks (each named by the CLI as FAIL).
const BROKEN: Record<string, string[]> = {
  'drops-environ-keys': ['HW-ENV-02'],
  'drops-extensions': ['HW-ESC-01'],
  'gzips-tokens': ['HW-ESC-02', 'HW-BODY-02'],
  'alters-token-body': ['HW-ESC-02'],
  'strips-control': ['HW-ESC-03'],
  'buffers-body': ['HW-BODY-02', 'HW-BODY-03', 'HW-BODY-05'],
  'never-closes': ['HW-CLOSE-01', 'HW-CLOSE-02'],
  'closes-twice': ['HW-CLOSE-01'],
  'sends-before-start': ['HW-RSP-02'],
  'starts-twice': ['HW-RSP-03'],
  'merges-headers': ['HW-HDR-01'],
  'resorts-headers': ['HW-HDR-01'],
  'swallows-errors': ['HW-ERR-01'],
  'body-on-304': ['HW-RSP-06'],
  'wrong-length': ['HW-RSP-05'],
};
const GOOD: Record<string, string> = {
  'header-adder': 'escape-safe',
  'auth-gate': 'escape-aware',
  mount: 'escape-safe',
  logger: 'escape-safe',
  compressor: 'escape-safe',
};

// Two at a time: the suite shares its cores.
async function pool<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all([0, 1].map(async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  }));
}

t.test('each broken fixture fails with exit 1, naming its broken rules', async (t) => {
  await pool(Object.entries(BROKEN), async ([name, rules]) => {
    const { code, stdout } = await check(`test/fixtures/conformance/${name}.ts`);
    t.equal(code, 1, `${name}: exit 1`);
    t.match(stdout, new RegExp(`^test/fixtures/conformance/${name}\\.ts: FAIL`), `${name}: the verdict first`);
    for (const id of rules) t.ok(failLine(stdout, id), `${name}: ${id} FAIL`);
    t.match(stdout, /\n {2}reproduce: request\(middleware\(probe\)/, `${name}: a reproduction`);
  });
});

t.test('each well-behaved fixture passes with exit 0 and its grade', async (t) => {
  await pool(Object.entries(GOOD), async ([name, grade]) => {
    const { code, stdout } = await check(`test/fixtures/conformance/${name}.ts`);
    t.equal(code, 0, `${name}: exit 0`);
    t.match(stdout, new RegExp(`: PASS — ${grade} `), `${name}: ${grade}`);
    t.notMatch(stdout, / FAIL {4}/);
  });
});

t.test('--json, --header, --options and --rule', async (t) => {
  const json = await check('test/fixtures/conformance/auth-gate.ts', '--json', '--header', 'authorization: Bearer s3', '--options', '{"token":"s3"}');
  t.equal(json.code, 0);
  const report = JSON.parse(json.stdout) as { verdict: string; grade: string; rules: { id: string; verdict: string }[] };
  t.equal(report.grade, 'escape-safe', 'with the token the gate lets the probes through: its tokens pass');
  t.ok(report.rules.every((r) => r.verdict === 'pass'));
  const one = await check('test/fixtures/conformance/merges-headers.ts', '--rule', 'HW-HDR-01', '--json');
  t.equal(one.code, 1);
  t.same((JSON.parse(one.stdout) as { rules: { id: string }[] }).rules.map((r) => r.id), ['HW-HDR-01']);
});

t.test("a module's conformance export is checked entry by entry", async (t) => {
  const { code, stdout } = await check('middleware/lint.ts');
  t.equal(code, 0);
  t.match(stdout, /^middleware\/lint\.ts \(lint\): PASS — escape-safe/);
});

t.test('exit 2 when the module cannot be loaded or exports no middleware; --help documents it', async (t) => {
  const missing = await check('test/fixtures/conformance/nope.ts');
  t.equal(missing.code, 2);
  t.match(missing.stderr, /cannot load/);
  const noExport = await check('test/fixtures/conformance/mount.ts#nothing');
  t.equal(noExport.code, 2);
  t.match(noExport.stderr, /no export 'nothing'/);
  const badJson = await check('test/fixtures/conformance/mount.ts', '--options', '{');
  t.equal(badJson.code, 2);
  const help = await check('--help');
  t.equal(help.code, 0);
  t.match(help.stdout, /Usage: hatchway check <module>\[#export\]/);
  t.match(help.stdout, /--options JSON/);
  t.match(help.stdout, /Exit status: 0 .* 1 when a rule fails, 2 when the/s);
});
