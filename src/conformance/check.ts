/**
 * `checkMiddleware(middleware, options?)`: drives a middleware with every probe (probes.ts)
 * through the in-memory client — the real runner and the real escape recognition — with the
 * lint boundaries (watch.ts) on both of its sides, and returns a report per rule (pass, fail
 * with evidence, or not applicable) and an escape grade.
 */
import { request, type TestRequest, type TestResponse } from '../testing.ts';
import type { HeaderList, Middleware } from '../gateway/types.ts';
import { PROBES, PROBE_KEY, probeByName, type Probe, type ProbeContext } from './probes.ts';
import { RULES, RULE_CLASSES, ruleById, type RuleClass, type RuleId } from './rules.ts';
import { watchMiddleware, type Call, type Violation } from './watch.ts';

/** A rule's verdict. */
export type Verdict = 'pass' | 'fail' | 'n/a';

/**
 * The escape grade: `escape-safe` — every token response passed through and was honoured;
 * `escape-aware` — none was altered, but some were replaced wholesale (the middleware answered
 * itself, or hid a feature); `unsafe` — a token response was altered, half-passed, or an
 * extension dropped (an HW-ESC rule fails).
 */
export type Grade = 'escape-safe' | 'escape-aware' | 'unsafe';

/** What one escape probe came to. */
export type EscapeOutcome = 'honoured' | 'replaced' | 'altered';

/** Why a rule failed: the first violation seen, and how many there were. */
export interface Evidence {
  /** The name of the probe (see {@link PROBES}) that saw the first violation. */
  probe: string;
  /** What was wrong, in one sentence: `the inner body was never closed`, say. */
  message: string;
  /** A minimal reproduction: the probe's request to `middleware(probe app)` with `request()` of `hatchway/testing`. */
  reproduce: string;
  /** How many violations of this rule all the probes saw together (at least 1). */
  count: number;
}

/** One rule's line of the report. */
export interface RuleResult {
  /** The rule's stable id, `HW-ESC-02` say (docs/CHECKLIST.md lists them). */
  id: RuleId;
  /** The rule's class: the part of the interface it is about. */
  class: RuleClass;
  /** The rule's one-line title, as in the checklist. */
  title: string;
  /** `pass`, `fail`, or `n/a` when no probe could exercise it (the middleware never called the inner app, say). */
  verdict: Verdict;
  /** Why it failed; set only when `verdict` is `fail`. */
  evidence?: Evidence;
  /** What to do instead, and the helper that does it. */
  hint: string;
}

/** What one probe saw. */
export interface ProbeResult {
  /** The probe's name (see {@link PROBES}). */
  name: string;
  /** What the probe does, in one line. */
  title: string;
  /** The final status the client saw (101 for a websocket takeover; 0 when no response was sent). */
  status: number;
  /** The middleware called the inner app. */
  reached: boolean;
  /** The response was torn down, or nothing was sent. */
  aborted: boolean;
  /** The probe's timeout (`CheckOptions.timeout`) ran out before the response ended. */
  timedOut: boolean;
  /** The server's escape decision, for escape probes. */
  situation?: string;
  /** Every violation the boundaries and the probe's own checks saw, in order. */
  violations: Violation[];
}

/** The whole report. */
export interface CheckReport {
  /** The middleware's name: `CheckOptions.name`, else the function's name, else `middleware`. */
  name: string;
  /** `fail` when any rule fails. */
  verdict: 'pass' | 'fail';
  /** The escape grade, from the escape probes (see {@link Grade}). */
  grade: Grade;
  /** What each escape probe came to: `n/a` when it was not run (filtered out by `probes`/`rules`). */
  escapes: Record<'websocket' | 'trailers' | 'push', EscapeOutcome | 'n/a'>;
  /** One result per checked rule, in checklist order. */
  rules: RuleResult[];
  /** What each probe saw, in the order they ran. */
  probes: ProbeResult[];
  /** How many rules passed, failed, and did not apply. */
  counts: Record<Verdict, number>;
}

/** Options of {@link checkMiddleware}. */
export interface CheckOptions {
  /** The middleware's name in the report. */
  name?: string;
  /** Check only these rules (and run only their probes). */
  rules?: readonly string[];
  /** Run only these probes. */
  probes?: readonly string[];
  /** Fields added to every probe request: an `authorization` that lets an auth gate through, say. */
  headers?: HeaderList | Record<string, string>;
  /** Per-probe timeout in ms (default 2000). */
  timeout?: number;
}

/**
 * One configuration of a middleware as `hatchway check` and `npm run conformance` check it: a
 * module that exports `conformance: ConformanceEntry[]` is checked once per entry, each under
 * its own name, instead of through its default export (docs/CONFORMANCE.md).
 *
 * @example
 * ```ts
 * import type { ConformanceEntry, Middleware } from 'hatchway';
 *
 * export default function auth(token: string): Middleware {
 *   return (app) => (environ, startResponse) =>
 *     environ.headers.some(([n, v]) => n === 'authorization' && v === `Bearer ${token}`) ? app(environ, startResponse) : (startResponse(401, []), []);
 * }
 *
 * export const conformance: ConformanceEntry[] = [
 *   { name: 'auth', make: () => auth('t'), options: { headers: { authorization: 'Bearer t' } } },
 * ];
 * ```
 */
export interface ConformanceEntry {
  /** The name the report shows for this configuration (`cors`, `cors with credentials`…). */
  name: string;
  /** Builds the middleware in this configuration; called once per check. */
  make(): Middleware;
  /** Options for {@link checkMiddleware}: `headers` that let an auth gate through, say. */
  options?: CheckOptions;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function describeRequest(req: TestRequest): string {
  const shown: Record<string, unknown> = { method: req.method ?? 'GET', path: req.path ?? '/' };
  for (const key of ['headers', 'body', 'protocol', 'features', 'disconnectAfter', 'stallAfter'] as const) if (req[key] !== undefined) shown[key] = req[key];
  return `request(middleware(probe), ${JSON.stringify(shown)})`;
}

async function runProbe(middleware: Middleware, probe: Probe, options: CheckOptions): Promise<{ result: ProbeResult; res: TestResponse }> {
  const violations: Violation[] = [];
  let outer: Call | undefined;
  const ctx: ProbeContext = { outer: () => outer, report: (v) => violations.push(v), produced: 0 };
  const app = watchMiddleware(middleware, { report: ctx.report, onCall: (call) => (outer ??= call), closeCheck: false })(probe.app(ctx));
  const extra: HeaderList = Array.isArray(options.headers) ? options.headers : Object.entries(options.headers ?? {});
  const req: TestRequest = {
    ...probe.request,
    headers: [...((probe.request.headers as HeaderList | undefined) ?? []), ...extra.map(([n, v]) => [n.toLowerCase(), v] as [string, string])],
    environ: { [PROBE_KEY]: 'kept', ...probe.request.environ },
    timeout: probe.request.timeout ?? options.timeout ?? 2000,
  };
  let res: TestResponse;
  try {
    res = await request(app, req);
  } catch (err) {
    // Only a middleware that throws where nothing may throw gets here (a broken construction).
    throw new Error(`probe '${probe.name}': ${(err as Error).message}`, { cause: err });
  }
  await sleep(10); // async closes (an iterator's return()) settle
  probe.verify?.(res, ctx);
  const early = probe.request.disconnectAfter !== undefined || probe.request.stallAfter !== undefined;
  for (const call of outer?.inner ?? []) {
    if (call.hasBody && !call.isFile && call.closes === 0) violations.push({ rule: early ? 'HW-CLOSE-02' : 'HW-CLOSE-01', message: `the inner body was never closed${early ? ' after the client left' : ''}` });
  }
  return {
    res,
    result: {
      name: probe.name,
      title: probe.title,
      status: res.status,
      reached: (outer?.inner.length ?? 0) > 0,
      aborted: res.aborted,
      timedOut: res.timedOut && probe.request.stallAfter === undefined,
      situation: res.escape?.situation,
      violations,
    },
  };
}

/**
 * Checks a middleware against every rule of the checklist.
 *
 * @example
 * ```ts
 * import { checkMiddleware } from 'hatchway/testing';
 *
 * const report = await checkMiddleware(myMiddleware, { name: 'my-middleware' });
 * console.log(report.verdict, report.grade); // 'pass' 'escape-safe'
 * for (const rule of report.rules) if (rule.verdict === 'fail') console.log(rule.id, rule.evidence?.message);
 * ```
 */
export async function checkMiddleware(middleware: Middleware, options: CheckOptions = {}): Promise<CheckReport> {
  if (typeof middleware !== 'function') throw new TypeError('checkMiddleware(middleware): a function (app) => app');
  const scope = options.rules === undefined ? RULES.map((r) => r.id) : options.rules.map((id) => ruleById(id).id as RuleId);
  const names = options.probes ?? [...new Set(scope.flatMap((id) => ruleById(id).probes))];
  const probes = PROBES.filter((p) => names.includes(p.name));
  for (const name of names) probeByName(name);
  const results: ProbeResult[] = [];
  const responses = new Map<string, TestResponse>();
  for (const probe of probes) {
    const { result, res } = await runProbe(middleware, probe, options);
    results.push(result);
    responses.set(probe.name, res);
  }
  const byName = new Map(results.map((r) => [r.name, r]));
  crossProbe(byName, responses);

  const rules: RuleResult[] = scope.map((id) => {
    const rule = ruleById(id);
    const seen = results.flatMap((p) => p.violations.filter((v) => v.rule === id).map((v) => ({ probe: p, v })));
    const base = { id: id as RuleId, class: rule.class, title: rule.title, hint: rule.hint };
    if (seen.length > 0) {
      const first = seen[0]!;
      return { ...base, verdict: 'fail', evidence: { probe: first.probe.name, message: first.v.message, reproduce: describeRequest(probeByName(first.probe.name).request), count: seen.length } };
    }
    const applicable = rule.probes.some((name) => {
      const p = byName.get(name);
      return p !== undefined && (!rule.needsInner || p.reached);
    });
    return { ...base, verdict: applicable ? 'pass' : 'n/a' };
  });
  const escapes = {
    websocket: escapeOutcome(byName.get('websocket')),
    trailers: escapeOutcome(byName.get('trailers')),
    push: pushOutcome(byName.get('push'), responses.get('push')),
  };
  const escFails = rules.some((r) => r.class === 'ESC' && r.verdict === 'fail');
  const outcomes = Object.values(escapes);
  const grade: Grade = escFails || outcomes.includes('altered') ? 'unsafe' : outcomes.every((o) => o === 'honoured') ? 'escape-safe' : 'escape-aware';
  const counts = { pass: 0, fail: 0, 'n/a': 0 } as Record<Verdict, number>;
  for (const r of rules) counts[r.verdict]++;
  return { name: options.name ?? (middleware.name || 'middleware'), verdict: counts.fail > 0 ? 'fail' : 'pass', grade, escapes, rules, probes: results, counts };
}

function escapeOutcome(probe: ProbeResult | undefined): EscapeOutcome | 'n/a' {
  if (probe === undefined) return 'n/a';
  if (probe.violations.some((v) => v.rule.startsWith('HW-ESC-'))) return 'altered';
  return probe.situation === 'honoured' ? 'honoured' : 'replaced';
}

function pushOutcome(probe: ProbeResult | undefined, res: TestResponse | undefined): EscapeOutcome | 'n/a' {
  if (probe === undefined || res === undefined) return 'n/a';
  if (probe.violations.some((v) => v.rule.startsWith('HW-ESC-'))) return 'altered';
  return res.pushed.length > 0 ? 'honoured' : 'replaced';
}

// Rules that compare probes: sync and async bodies alike (HW-BODY-04).
function crossProbe(byName: Map<string, ProbeResult>, responses: Map<string, TestResponse>): void {
  const ok = (p: ProbeResult) => p.status < 500 && !p.aborted && !p.timedOut;
  const kinds = ['plain', 'sync', 'array'].map((n) => byName.get(n)).filter((p): p is ProbeResult => p !== undefined && p.reached);
  const good = kinds.find(ok);
  if (good === undefined) return;
  for (const p of kinds) {
    if (ok(p)) continue;
    const log = responses.get(p.name)?.logs[0]?.split('\n')[0];
    p.violations.push({ rule: 'HW-BODY-04', message: `the ${p.name} body probe got ${p.aborted ? 'an aborted response' : p.status}${log ? ` (${log})` : ''} while the ${good.name} probe got ${good.status}` });
  }
}

/** The classes in the checklist's order, with their titles. */
export { RULE_CLASSES };
