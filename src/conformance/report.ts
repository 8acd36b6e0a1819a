/**
 * Formatting: a check report as a terminal table (`hatchway check`), and the rules as the
 * Markdown of `docs/CHECKLIST.md` (`npm run checklist`).
 */
import type { CheckReport } from './check.ts';
import { RULES, RULE_CLASSES, type Rule } from './rules.ts';

const VERDICT = { pass: 'pass', fail: 'FAIL', 'n/a': 'n/a' } as const;

/**
 * The report as a table: id, title, verdict, and for each failing rule its evidence, its
 * reproduction and its hint.
 *
 * @example
 * ```ts
 * process.stdout.write(formatReport(await checkMiddleware(mw, { name: 'mw' })));
 * ```
 */
export function formatReport(report: CheckReport, options: { color?: boolean } = {}): string {
  const paint = (code: number, text: string) => (options.color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const lines: string[] = [];
  const { pass, fail } = report.counts;
  const na = report.counts['n/a'];
  lines.push(`${report.name}: ${report.verdict === 'pass' ? paint(32, 'PASS') : paint(31, 'FAIL')} — ${report.grade} (websocket ${report.escapes.websocket}, trailers ${report.escapes.trailers}, push ${report.escapes.push})`);
  lines.push(`${pass} pass, ${fail} fail, ${na} not applicable`);
  lines.push('');
  const width = Math.max(...report.rules.map((r) => r.title.length), 5);
  lines.push(`${'id'.padEnd(11)}  ${'title'.padEnd(width)}  verdict  evidence`);
  lines.push(`${'-'.repeat(11)}  ${'-'.repeat(width)}  -------  --------`);
  for (const rule of report.rules) {
    const verdict = VERDICT[rule.verdict].padEnd(7);
    const evidence = rule.evidence === undefined ? '' : `${rule.evidence.probe}: ${rule.evidence.message}${rule.evidence.count > 1 ? ` (+${rule.evidence.count - 1} more)` : ''}`;
    lines.push(`${rule.id.padEnd(11)}  ${rule.title.padEnd(width)}  ${rule.verdict === 'fail' ? paint(31, verdict) : verdict}  ${evidence}`);
  }
  const failing = report.rules.filter((r) => r.verdict === 'fail');
  if (failing.length > 0) {
    lines.push('');
    for (const rule of failing) {
      lines.push(`${rule.id} ${rule.title}`);
      lines.push(`  seen:      ${rule.evidence!.message}`);
      lines.push(`  reproduce: ${rule.evidence!.reproduce}`);
      lines.push(`  hint:      ${rule.hint}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** A rule example's source as printed: the type-stripped runtime leaves blanks where types were. */
export function exampleSource(fn: Function): string {
  const lines = String(fn).split('\n');
  const indents = lines.slice(1).filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)![0].length);
  const last = lines[lines.length - 1]!;
  const block = lines[0]!.trimEnd().endsWith('{') && last.trimStart().startsWith('}');
  const cut = indents.length === 0 ? 0 : block ? /^ */.exec(last)![0].length : Math.min(...indents) - 2;
  return lines
    .map((line, i) => {
      const trimmed = i === 0 || cut <= 0 ? line : line.slice(Math.min(cut, /^ */.exec(line)![0].length));
      const lead = /^ */.exec(trimmed)![0];
      const rest = trimmed.slice(lead.length).replace(/ {2,}/g, ' ').replace(/ +([,;)\]])/g, '$1').replace(/([A-Z]\w*) \(\)/g, '$1()');
      return lead + rest.trimEnd();
    })
    .join('\n');
}

function ruleSection(rule: Rule): string {
  return [
    `### ${rule.id} — ${rule.title}`,
    '',
    `*${rule.source}; SPEC ${rule.spec}; probes: ${rule.probes.map((p) => `\`${p}\``).join(', ')}*`,
    '',
    `**Why.** ${rule.why}`,
    '',
    `**Checked.** ${rule.check}`,
    '',
    `**Do instead.** ${rule.hint}`,
    '',
    'Passes:',
    '',
    '```js',
    exampleSource(rule.examples.pass),
    '```',
    '',
    'Fails:',
    '',
    '```js',
    exampleSource(rule.examples.fail),
    '```',
    '',
  ].join('\n');
}

/** docs/CHECKLIST.md, from the rules. */
export function renderChecklist(): string {
  const out: string[] = [
    '# The hatchway middleware checklist',
    '',
    '<!-- Generated from src/conformance/rules.ts by `npm run checklist`; test/conformance/checklist.test.ts fails when it drifts. -->',
    '',
    'Every rule has a stable id. `lint()` and `lintMiddleware()` report them at run time,',
    '`checkMiddleware()` (from `hatchway/testing`) and `hatchway check <module>` report them for a',
    'middleware driven with probe apps, and [CONFORMANCE.md](CONFORMANCE.md) lists the results for',
    'the bundled middleware and popular npm middleware. Each rule\'s examples are run by the tests:',
    'the first passes it, the second fails it with its id.',
    '',
    '**Escape grade.** `escape-safe`: every token response (websocket, trailers, push) passed',
    'through and was honoured. `escape-aware`: none was altered, but some were replaced wholesale',
    '(the middleware answered itself — a 401 — or hid the feature). `unsafe`: an HW-ESC rule',
    'fails — a token response altered or half-passed, or an extension dropped.',
    '',
    '| id | rule | from |',
    '|---|---|---|',
    ...RULES.map((r) => `| [${r.id}](#${anchor(r)}) | ${r.title.replace(/\|/g, '\\|')} | ${r.source} |`),
    '',
  ];
  for (const [cls, title] of Object.entries(RULE_CLASSES)) {
    const rules = RULES.filter((r) => r.class === cls);
    if (rules.length === 0) continue;
    out.push(`## ${title} (${cls})`, '');
    for (const rule of rules) out.push(ruleSection(rule));
  }
  return out.join('\n');
}

// GitHub's heading anchors: lowercase, punctuation dropped, spaces to dashes.
function anchor(rule: Rule): string {
  return `${rule.id} — ${rule.title}`
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}
