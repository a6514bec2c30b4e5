// TAP 14 writer. One test point per CheckResult; failures carry a YAML diagnostic block,
// subtests become 4-space indented child streams introduced by `# Subtest: name`.
import type { CheckResult, RunReport } from './types.ts';
import { yamlLines } from './yaml.ts';

export interface TapOptions {
  /** also attach a `duration_ms`-only YAML block to passing/skipped points (default false) */
  passDiagnostics?: boolean;
  /** leading `# ...` comment lines describing the run (default true) */
  header?: boolean;
}

/**
 * Escape a test point description or directive reason per TAP 14: `\` -> `\\`, `#` -> `\#`.
 * Line breaks cannot appear in a test point line and are replaced by spaces.
 */
export function escapeTap(s: string): string {
  return s.replace(/\r\n|[\r\n]/g, ' ').replace(/[\\#]/g, (c) => '\\' + c);
}

/** A `# ...` comment line (line breaks flattened). */
function comment(s: string): string {
  return '# ' + s.replace(/\r\n|[\r\n]/g, ' ');
}

/** The diagnostic object written under a test point, or undefined for none. */
export function tapDiagnostics(r: CheckResult, opts: TapOptions = {}): Record<string, unknown> | undefined {
  if (r.status !== 'fail') {
    return opts.passDiagnostics ? { duration_ms: r.durationMs } : undefined;
  }
  const d: Record<string, unknown> = {};
  if (r.message !== undefined) d.message = r.message;
  if (r.title && r.title !== r.id) d.title = r.title;
  if (r.expected !== undefined) d.expected = r.expected;
  if (r.observed !== undefined) d.observed = r.observed;
  if (r.diffs?.length) d.diffs = r.diffs;
  if (r.details !== undefined && r.details !== '') d.details = r.details;
  if (r.artifacts !== undefined) d.artifacts = r.artifacts;
  const failedSubtests = (r.subtests ?? []).filter((s) => s.status === 'fail').map((s) => s.id);
  if (failedSubtests.length) d.failed_subtests = failedSubtests;
  d.duration_ms = r.durationMs;
  return d;
}

/** TAP lines (without version line) for a list of results at the given indentation. */
export function tapBody(results: CheckResult[], opts: TapOptions = {}, indent = ''): string[] {
  const out: string[] = [indent + `1..${results.length}`];
  results.forEach((r, i) => {
    const desc = escapeTap(r.id);
    if (r.subtests?.length) {
      out.push(indent + comment(`Subtest: ${desc}`));
      out.push(...tapBody(r.subtests, opts, indent + '    '));
    }
    let line = `${r.status === 'fail' ? 'not ok' : 'ok'} ${i + 1} - ${desc}`;
    if (r.status === 'skip') line += ' # SKIP' + (r.skipReason ? ' ' + escapeTap(r.skipReason) : '');
    out.push(indent + line);
    const diag = tapDiagnostics(r, opts);
    if (diag) {
      out.push(indent + '  ---');
      out.push(...yamlLines(diag, indent + '  '));
      out.push(indent + '  ...');
    }
  });
  return out;
}

/** The whole run as a TAP 14 stream (ends with a newline). */
export function toTap(report: RunReport, opts: TapOptions = {}): string {
  const out = ['TAP version 14'];
  if (opts.header !== false) {
    out.push(comment(`vxlab run ${report.runId} topology ${report.topology}${report.file ? ` (${report.file})` : ''}`));
    out.push(comment(`started ${report.startedAt}`));
  }
  out.push(...tapBody(report.results, opts));
  if (opts.header !== false) out.push(comment(`duration_ms ${report.durationMs}`));
  return out.join('\n') + '\n';
}

export const tapReporter = (report: RunReport): string => toTap(report);
