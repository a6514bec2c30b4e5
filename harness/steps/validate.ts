// Check steps name suites or check ids; their expect: keys must be among what the step runs. file:line:col errors.
import type { Loaded } from '../topology/load.ts';
import type { ResolvedTopology } from '../topology/resolved.ts';
import { TopologyError, type TopologyIssue } from '../topology/errors.ts';
import { compilePattern } from '../runner/expect.ts';

export function validateStepChecks(loaded: Loaded, t: ResolvedTopology, checkIds: string[], suites: string[]): void {
  const issues: TopologyIssue[] = [];
  (t.steps ?? []).forEach((s, i) => {
    if (s.action !== 'check') return;
    s.check.forEach((c, j) => {
      if (!suites.includes(c) && !checkIds.includes(c)) issues.push({ loc: loaded.locate(['steps', i, 'check', j]), key: `steps[${i}].check[${j}]`, message: `unknown suite or check '${c}'; expected a suite (${suites.join(', ')}) or a check id like routes/fdb` });
    });
    for (const [k, v] of Object.entries(s.expect)) {
      const covered = s.check.some((c) => k === c || k.startsWith(`${c}/`) || (c.startsWith(`${k}/`) && suites.includes(k)));
      if (!covered) issues.push({ loc: loaded.locate(['steps', i, 'expect', k], true), key: `steps[${i}].expect.${k}`, message: `'${k}' is not among this step's checks (${s.check.join(', ')})` });
      else if (!suites.includes(k) && !checkIds.includes(k)) issues.push({ loc: loaded.locate(['steps', i, 'expect', k], true), key: `steps[${i}].expect.${k}`, message: `unknown suite or check '${k}'` });
      if (typeof v === 'object' && v.message !== undefined && typeof compilePattern(v.message) === 'string') issues.push({ loc: loaded.locate(['steps', i, 'expect', k, 'message']), key: `steps[${i}].expect.${k}.message`, message: `invalid regular expression /${v.message}/` });
    }
  });
  if (issues.length) throw new TopologyError(issues);
}
