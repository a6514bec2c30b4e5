// The auditor's assertion shared by the hand-break tables (hand-breaks, hand-breaks-v6, ipv6): run only the checks
// that own a break, then each must FAIL and say the expected fragment (node, peer and value) in its message or diffs.
import { expect } from 'vitest';
import { join } from 'node:path';
import { runSuites } from '../../harness/runner/runner.ts';
import { SUITES } from '../../suites/index.ts';
import type { ResolvedTopology } from '../../harness/topology/resolved.ts';

export async function expectOwnersFail(t: ResolvedTopology, workDir: string, owner: string[], re: RegExp, observed?: RegExp): Promise<void> {
  const suites = [...new Set(owner.map((id) => id.split('/')[0]!))].map((s) => ({ ...SUITES[s]!, checks: SUITES[s]!.checks.filter((c) => owner.includes(c.id)) }));
  const { results } = await runSuites(t, suites, { workDir: join(workDir) });
  for (const id of owner) {
    const x = results.find((y) => y.id === id);
    expect(x, `${id} did not run`).toBeDefined();
    const said = [x!.message ?? '', ...(x!.diffs ?? [])];
    expect(x!.status, `${id}: ${x!.message}`).toBe('fail');
    expect(said.some((s) => re.test(s)), `${id} should say ${re}; it said:\n${said.join('\n')}`).toBe(true);
    if (observed) expect(JSON.stringify(x!.observed)).toMatch(observed);
  }
}
