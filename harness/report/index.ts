// Reporter registry: look reporters up by name; write the machine-readable reports to a directory.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunReport } from './types.ts';
import { toTap } from './tap.ts';
import { toJUnit } from './junit.ts';
import { toJson } from './json.ts';
import { renderPretty } from './pretty.ts';
import { toHtml } from './html.ts';

/** A reporter renders a whole run; it may be async (the HTML reporter lays out the topology picture). */
export type Reporter = (report: RunReport) => string | Promise<string>;

export const reporters = {
  pretty: (report: RunReport) => renderPretty(report),
  tap: (report: RunReport) => toTap(report),
  junit: (report: RunReport) => toJUnit(report),
  json: (report: RunReport) => toJson(report),
  html: (report: RunReport) => toHtml(report),
} as const satisfies Record<string, Reporter>;

export type ReporterName = keyof typeof reporters;

export const reporterNames = Object.keys(reporters) as ReporterName[];

export class UnknownReporterError extends Error {
  readonly code = 'VXLAB_UNKNOWN_REPORTER';
  constructor(readonly reporter: string) {
    super(`unknown reporter "${reporter}"; known reporters: ${reporterNames.join(', ')}`);
    this.name = 'UnknownReporterError';
  }
}

export function isReporterName(name: string): name is ReporterName {
  return Object.prototype.hasOwnProperty.call(reporters, name);
}

export function getReporter(name: string): Reporter {
  if (!isReporterName(name)) throw new UnknownReporterError(name);
  return reporters[name];
}

/** The files written by writeReports when an output directory is given. */
export const REPORT_FILES = { tap: 'report.tap', junit: 'report.xml', json: 'report.json', html: 'report.html' } as const;

export interface WriteReportsOptions {
  reporter: string;
  /** when set, also write report.tap, report.xml (JUnit), report.json and report.html here (created if missing) */
  outDir?: string;
}

/**
 * Render `report` with the chosen reporter and return that text (for stdout). With `outDir`,
 * also write the TAP, JUnit, JSON and HTML files there (the HTML's artifact links are relative to
 * outDir). The reporter name is validated first, so an unknown name throws before anything is written.
 */
export async function writeReports(report: RunReport, opts: WriteReportsOptions): Promise<string> {
  const reporter = getReporter(opts.reporter);
  if (opts.outDir) {
    mkdirSync(opts.outDir, { recursive: true });
    writeFileSync(join(opts.outDir, REPORT_FILES.tap), toTap(report));
    writeFileSync(join(opts.outDir, REPORT_FILES.junit), toJUnit(report));
    writeFileSync(join(opts.outDir, REPORT_FILES.json), toJson(report));
    const html = await toHtml(report, { baseDir: opts.outDir });
    writeFileSync(join(opts.outDir, REPORT_FILES.html), html);
    if (opts.reporter === 'html') return html;
  }
  return reporter(report);
}

export { toTap, escapeTap } from './tap.ts';
export { toJUnit } from './junit.ts';
export { toJson } from './json.ts';
export { toHtml } from './html.ts';
export { renderPretty, Progress, summaryLine } from './pretty.ts';
export { ingestTap, parseTap, runTapScript } from './tap-ingest.ts';
