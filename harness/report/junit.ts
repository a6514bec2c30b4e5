// JUnit XML: <testsuites> with one <testsuite> per suite, one <testcase> per check.
import type { CheckResult, RunReport } from './types.ts';
import { renderValue } from './plain.ts';

// Characters not allowed in XML 1.0 documents: C0 controls except TAB/LF/CR,
// U+FFFE/U+FFFF and unpaired surrogates. They are replaced by a visible `\uXXXX`.
// eslint-disable-next-line no-control-regex
const INVALID_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function stripInvalid(s: string): string {
  return s.replace(INVALID_XML, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** Escape character data (element text). */
export function xmlText(s: string): string {
  return stripInvalid(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escape an attribute value (for double-quoted attributes); keeps TAB/LF/CR via char refs. */
export function xmlAttr(s: string): string {
  return stripInvalid(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;');
}

const secs = (ms: number) => (Math.max(0, ms || 0) / 1000).toFixed(3);

/** The text placed inside <failure>: message, expected, observed, diffs, details, failing subtests. */
export function failureBody(r: CheckResult): string {
  const parts: string[] = [];
  if (r.message) parts.push(r.message);
  if (r.expected !== undefined) parts.push('expected:\n' + indent(renderValue(r.expected)));
  if (r.observed !== undefined) parts.push('observed:\n' + indent(renderValue(r.observed)));
  if (r.diffs?.length) parts.push('diffs:\n' + indent(r.diffs.join('\n')));
  if (r.details) parts.push('details:\n' + r.details);
  const sub = flattenSubtests(r.subtests ?? []).filter((s) => s.status === 'fail');
  if (sub.length) parts.push('failed subtests:\n' + indent(sub.map((s) => `${s.id}${s.message ? `: ${s.message}` : ''}`).join('\n')));
  if (r.artifacts) parts.push(`artifacts: ${r.artifacts}`);
  return parts.join('\n\n');
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => '  ' + l)
    .join('\n');
}

function flattenSubtests(rs: CheckResult[]): CheckResult[] {
  return rs.flatMap((r) => [r, ...flattenSubtests(r.subtests ?? [])]);
}

function testcase(r: CheckResult, pad: string): string[] {
  const head = `${pad}<testcase classname="${xmlAttr(`vxlab.${r.suite}`)}" name="${xmlAttr(r.id)}" time="${secs(r.durationMs)}"`;
  const inner: string[] = [];
  if (r.status === 'fail') {
    const msg = r.message ?? 'failed';
    inner.push(`${pad}  <failure message="${xmlAttr(msg)}" type="vxlab.CheckFailed">${xmlText(failureBody(r))}</failure>`);
  } else if (r.status === 'skip') {
    inner.push(`${pad}  <skipped message="${xmlAttr(r.skipReason ?? 'skipped')}"/>`);
  }
  if (r.status !== 'fail' && r.subtests?.length) {
    const lines = flattenSubtests(r.subtests).map((s) => `${s.status} ${s.id}`);
    inner.push(`${pad}  <system-out>${xmlText(lines.join('\n'))}</system-out>`);
  }
  if (!inner.length) return [head + '/>'];
  return [head + '>', ...inner, `${pad}</testcase>`];
}

export function toJUnit(report: RunReport): string {
  const bySuite = new Map<string, CheckResult[]>();
  for (const r of report.results) {
    const list = bySuite.get(r.suite) ?? [];
    list.push(r);
    bySuite.set(r.suite, list);
  }
  const count = (rs: CheckResult[], s: string) => rs.filter((r) => r.status === s).length;
  const total = report.results;
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(
    `<testsuites name="${xmlAttr(`vxlab ${report.topology}`)}" tests="${total.length}" failures="${count(total, 'fail')}" errors="0" skipped="${count(total, 'skip')}" time="${secs(report.durationMs)}">`,
  );
  for (const [suite, rs] of bySuite) {
    const time = rs.reduce((a, r) => a + (r.durationMs || 0), 0);
    out.push(
      `  <testsuite name="${xmlAttr(suite)}" tests="${rs.length}" failures="${count(rs, 'fail')}" errors="0" skipped="${count(rs, 'skip')}" time="${secs(time)}" timestamp="${xmlAttr(report.startedAt)}">`,
    );
    out.push('    <properties>');
    out.push(`      <property name="topology" value="${xmlAttr(report.topology)}"/>`);
    out.push(`      <property name="runId" value="${xmlAttr(report.runId)}"/>`);
    if (report.file) out.push(`      <property name="file" value="${xmlAttr(report.file)}"/>`);
    if (report.artifactsDir) out.push(`      <property name="artifactsDir" value="${xmlAttr(report.artifactsDir)}"/>`);
    out.push('    </properties>');
    for (const r of rs) out.push(...testcase(r, '    '));
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}

export const junitReporter = (report: RunReport): string => toJUnit(report);
