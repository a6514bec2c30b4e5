// JSON reporter: the RunReport as-is plus a summary block.
import { summarize, type RunReport } from './types.ts';
import { toPlain } from './plain.ts';

export interface JsonReport extends RunReport {
  summary: { pass: number; fail: number; skip: number; total: number };
}

export function toJsonReport(report: RunReport): JsonReport {
  // the resolved topology is written as resolved.json among the artifacts; the report stays about results
  const { resolved: _resolved, ...rest } = report;
  return { ...rest, summary: summarize(report.results) };
}

/** Pretty-printed JSON (2-space indent, trailing newline). bigint/Map/Set/cycles are made serialisable. */
export function toJson(report: RunReport): string {
  const plain = toPlain(toJsonReport(report));
  return JSON.stringify(plain, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2) + '\n';
}

export const jsonReporter = (report: RunReport): string => toJson(report);
