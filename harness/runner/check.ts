// What a check is. Suites (in suites/) are lists of these, looked up by name in suites/index.ts.
import type { ResolvedTopology } from '../topology/resolved.ts';
import type { CheckResult } from '../report/types.ts';

/** What a check returns; the runner adds id, suite, title and duration to make a CheckResult. */
export type Outcome = Pick<CheckResult, 'status' | 'message' | 'expected' | 'observed' | 'diffs' | 'details' | 'skipReason' | 'matrix'>;

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
}

export interface CheckDef {
  id: string;
  title: string;
  run(ctx: CheckContext): Promise<Outcome>;
}

export interface SuiteDef {
  name: string;
  title: string;
  checks: CheckDef[];
}

export const pass = (message?: string, extra: Partial<Outcome> = {}): Outcome => ({ status: 'pass', message, ...extra });
export const fail = (message: string, extra: Partial<Outcome> = {}): Outcome => ({ status: 'fail', message, ...extra });
export const skip = (reason: string): Outcome => ({ status: 'skip', skipReason: reason, message: reason });

/** pass if no diffs, else fail with one line per difference */
export function fromDiffs(diffs: string[], okMessage: string, extra: Partial<Outcome> = {}): Outcome {
  return diffs.length ? fail(`${diffs.length} difference${diffs.length > 1 ? 's' : ''}: ${diffs[0]}${diffs.length > 1 ? ' …' : ''}`, { diffs, ...extra }) : pass(okMessage, extra);
}
