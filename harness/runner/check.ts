// What a check is. Suites (in suites/) are lists of these, looked up by name in suites/index.ts.
import type { ResolvedTopology } from '../topology/resolved.ts';
import type { CheckResult } from '../report/types.ts';

/** What a check returns; the runner adds id, suite, title and duration to make a CheckResult. */
export type Outcome = Pick<CheckResult, 'status' | 'message' | 'expected' | 'observed' | 'diffs' | 'details' | 'skipReason' | 'matrix' | 'settled'>;

export interface CheckContext {
  t: ResolvedTopology;
  /** per-run scratch dir; captures go here */
  workDir: string;
  /** pcaps and dumps worth keeping if something fails */
  keep(file: string): void;
  /** progress text for the pretty reporter */
  progress(msg: string): void;
  /** values shared between checks of one suite (e.g. one capture feeds several encapsulation checks) */
  memo<T>(key: string, make: () => Promise<T>): Promise<T>;
  /**
   * Resolves once the run's reader suites (SuiteDef.readsOnly) have read what they read (CheckDef.reads; a reader check
   * without it: once it has run): a check that sends traffic
   * waits for it, so the readers see the state `up` left, not one traffic changed (a neighbour entry traffic
   * created, a learned FDB entry). The runner waits for it before every check of a suite that is neither readsOnly
   * nor gatesTraffic; a gatesTraffic suite calls it itself, right before its first packet (after starting captures).
   */
  trafficGate?(): Promise<void>;
}

export interface CheckDef {
  id: string;
  title: string;
  run(ctx: CheckContext): Promise<Outcome>;
  /**
   * A readsOnly suite's check: every read of kernel state the check makes (memoised per run, so run() finds it done),
   * and nothing after it but comparisons of what was read. The runner starts these reads when the readers' lane starts
   * and opens the traffic gate once every reader check's reads have resolved, not when the readers' comparisons end
   * (#16: at 1,000 nodes the comparisons then overlap the traffic checks). A reader check without it holds the gate
   * until it has run.
   */
  reads?(ctx: CheckContext): Promise<unknown>;
}

export interface SuiteDef {
  name: string;
  title: string;
  checks: CheckDef[];
  /**
   * Every check only reads kernel state (tables, sysctls): no traffic, no capture. Such suites run concurrently with
   * the others (see runSuites); traffic waits for their reads (CheckDef.reads, CheckContext.trafficGate).
   */
  readsOnly?: boolean;
  /** the suite's checks call ctx.trafficGate() themselves before their first packet (so their captures can start earlier) */
  gatesTraffic?: boolean;
}

export const pass = (message?: string, extra: Partial<Outcome> = {}): Outcome => ({ status: 'pass', message, ...extra });
export const fail = (message: string, extra: Partial<Outcome> = {}): Outcome => ({ status: 'fail', message, ...extra });
export const skip = (reason: string): Outcome => ({ status: 'skip', skipReason: reason, message: reason });

/** pass if no diffs, else fail with one line per difference */
export function fromDiffs(diffs: string[], okMessage: string, extra: Partial<Outcome> = {}): Outcome {
  return diffs.length ? fail(`${diffs.length} difference${diffs.length > 1 ? 's' : ''}: ${diffs[0]}${diffs.length > 1 ? ' …' : ''}`, { diffs, ...extra }) : pass(okMessage, extra);
}
