// The result model shared by suites, the runner and every reporter.
import type { ResolvedTopology } from '../topology/resolved.ts';
import type { Verdict } from '../runner/expect.ts';

export type Status = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  /** stable id, `suite/check`, e.g. `encapsulation/udp-dst-port` */
  id: string;
  suite: string;
  title: string;
  status: Status;
  /** one-line summary; for failures it says what is wrong */
  message?: string;
  /** what the resolved topology says should be there */
  expected?: unknown;
  /** what the live system showed */
  observed?: unknown;
  /** individual differences, one per line (e.g. routes suite) */
  diffs?: string[];
  /** pre-rendered multi-line text (e.g. a connectivity matrix grid) */
  details?: string;
  skipReason?: string;
  durationMs: number;
  /** artifacts directory for this run, if any were written */
  artifacts?: string;
  /** nested results, e.g. an ingested external TAP script */
  subtests?: CheckResult[];
  /** a reachability matrix (connectivity suite), for heat maps */
  matrix?: MatrixData;
  /**
   * A failure that cannot turn into a pass unless a control plane writes to the nodes, and why (e.g. routes/fdb when
   * every difference is a permanent entry). A `within:` check step of a steps run — where vxlab is the only control
   * plane — stops retrying once every failure is settled (harness/steps/apply.ts).
   */
  settled?: string;
}

/** Pod-to-pod matrices, one string per source row, one character per target: '1' yes, '0' no. */
export interface MatrixData {
  /** node/pod */
  pods: string[];
  ips: string[];
  expected: string[];
  actual: string[];
  /** the cells this check judges (e.g. full-mesh: the pairs expected reachable) */
  judged: string[];
}

export interface RunReport {
  topology: string;
  file?: string;
  runId: string;
  startedAt: string;
  durationMs: number;
  results: CheckResult[];
  artifactsDir?: string;
  /** stopped by SIGINT/SIGTERM: results holds the checks that finished before it */
  interrupted?: boolean;
  /** the resolved topology the run compared against (the HTML report draws it; the JSON report leaves it out) */
  resolved?: ResolvedTopology;
  /** repro: the file's expectations, judged */
  expectations?: { verdicts: Verdict[]; missing: string[]; /** expectations of suites not run (--suite) */ notJudged?: string[] };
}

export function summarize(results: CheckResult[]): { pass: number; fail: number; skip: number; total: number } {
  const s = { pass: 0, fail: 0, skip: 0, total: results.length };
  for (const r of results) s[r.status]++;
  return s;
}
