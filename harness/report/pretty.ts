// Terminal reporter: a live progress line while checks run, then a summary table,
// one section per failure (expected | observed side by side, diffs, details verbatim)
// and a closing `N passed, N failed, N skipped` line.
import { summarize, type CheckResult, type RunReport, type Status } from './types.ts';
import { renderValue } from './plain.ts';

export interface OutStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Colors only on a TTY and when NO_COLOR is not set (https://no-color.org: set = present and non-empty). */
export function colorEnabled(stream: OutStream = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && !env.NO_COLOR;
}

type Paint = (s: string) => string;
interface Palette {
  red: Paint;
  green: Paint;
  yellow: Paint;
  dim: Paint;
  bold: Paint;
  cyan: Paint;
}

function palette(on: boolean): Palette {
  const mk =
    (open: number, close: number): Paint =>
    (s) =>
      on && s ? `\x1b[${open}m${s}\x1b[${close}m` : s;
  return { red: mk(31, 39), green: mk(32, 39), yellow: mk(33, 39), dim: mk(2, 22), bold: mk(1, 22), cyan: mk(36, 39) };
}

const len = (s: string) => [...s].length;

/** Cut `s` to at most `w` columns, ending with `…` when cut. */
export function truncate(s: string, w: number): string {
  const cps = [...s];
  if (cps.length <= w) return s;
  if (w <= 0) return '';
  return cps.slice(0, w - 1).join('') + '…';
}

function padEnd(s: string, w: number): string {
  const n = len(s);
  return n >= w ? s : s + ' '.repeat(w - n);
}

/** Hard-wrap one line into pieces of at most `w` columns. */
function wrap(line: string, w: number): string[] {
  const cps = [...line];
  if (cps.length <= w) return [line];
  const out: string[] = [];
  for (let i = 0; i < cps.length; i += w) out.push(cps.slice(i, i + w).join(''));
  return out;
}

const oneLine = (s: string) => s.replace(/\s*[\r\n]+\s*/g, ' ').replace(/\t/g, ' ');

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${Math.round((ms % 60_000) / 1000)}s`;
}

const LABEL: Record<Status, string> = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP' };

function statusLabel(s: Status, p: Palette): string {
  return s === 'pass' ? p.green(LABEL.pass) : s === 'fail' ? p.red(LABEL.fail) : p.yellow(LABEL.skip);
}

export interface PrettyOptions {
  color?: boolean;
  /** terminal width; default process.stdout.columns or 100 */
  width?: number;
}

/**
 * Two columns side by side, each `colW` wide, separated by ` │ `. Long lines wrap inside
 * their column. Rows that differ are highlighted when colors are on.
 */
export function sideBySide(left: string, right: string, width: number, p: Palette = palette(false), headers = ['expected', 'observed']): string[] {
  const colW = Math.max(10, Math.floor((width - 3) / 2));
  const L = left.replace(/\t/g, '  ').split('\n');
  const R = right.replace(/\t/g, '  ').split('\n');
  const out: string[] = [];
  out.push(p.bold(padEnd(headers[0]!, colW)) + ' │ ' + p.bold(headers[1]!));
  out.push('─'.repeat(colW) + '─┼─' + '─'.repeat(colW));
  const n = Math.max(L.length, R.length);
  for (let i = 0; i < n; i++) {
    const l = L[i] ?? '';
    const r = R[i] ?? '';
    const differs = l !== r;
    const lw = wrap(l, colW);
    const rw = wrap(r, colW);
    for (let j = 0; j < Math.max(lw.length, rw.length); j++) {
      const a = padEnd(lw[j] ?? '', colW);
      const b = rw[j] ?? '';
      out.push((differs ? p.green(a) : a) + ' │ ' + (differs ? p.red(b) : b));
    }
  }
  return out.map((l) => l.replace(/\s+$/, ''));
}

function flatten(rs: CheckResult[], depth = 0): Array<{ r: CheckResult; depth: number }> {
  return rs.flatMap((r) => [{ r, depth }, ...flatten(r.subtests ?? [], depth + 1)]);
}

function table(results: CheckResult[], width: number, p: Palette): string[] {
  const rows = flatten(results);
  if (!rows.length) return ['(no checks)'];
  const idOf = (x: { r: CheckResult; depth: number }) => '  '.repeat(x.depth) + (x.depth ? x.r.title || x.r.id : x.r.id);
  const idW = Math.min(Math.max(2, ...rows.map((x) => len(idOf(x)))), Math.max(20, Math.floor(width * 0.45)));
  const durs = rows.map((x) => formatDuration(x.r.durationMs));
  const durW = Math.max(8, ...durs.map(len));
  const fixed = idW + 2 + 4 + 2 + durW + 2;
  const msgW = Math.max(0, width - fixed);
  const out: string[] = [];
  out.push(p.dim(padEnd('id', idW) + '  ' + 'stat' + '  ' + padEnd('duration', durW) + '  message').replace(/\s+$/, ''));
  rows.forEach((x, i) => {
    const msg = x.r.status === 'skip' ? x.r.skipReason ?? x.r.message ?? '' : x.r.message ?? '';
    const line =
      padEnd(truncate(idOf(x), idW), idW) +
      '  ' +
      statusLabel(x.r.status, p) +
      '  ' +
      p.dim(durs[i]!.padStart(durW)) +
      (msg && msgW > 1 ? '  ' + truncate(oneLine(msg), msgW) : '');
    out.push(line);
  });
  return out;
}

function failureSection(r: CheckResult, width: number, p: Palette, depth = 0): string[] {
  const out: string[] = [];
  const head = `${LABEL.fail} ${r.id}${r.title && r.title !== r.id ? ` — ${r.title}` : ''}`;
  out.push(p.red(p.bold(depth ? truncate(head, width - 2) : truncate(`── ${head} `, width - 1).padEnd(Math.min(width - 1, 72), '─'))));
  if (r.message) out.push(r.message);
  if (r.expected !== undefined || r.observed !== undefined) {
    out.push('');
    out.push(...sideBySide(r.expected === undefined ? '(none)' : renderValue(r.expected), r.observed === undefined ? '(none)' : renderValue(r.observed), width, p));
  }
  if (r.diffs?.length) {
    out.push('', p.bold('diffs:'));
    for (const d of r.diffs) {
      const t = d.trimStart();
      out.push('  ' + (t.startsWith('+') ? p.green(d) : t.startsWith('-') ? p.red(d) : d));
    }
  }
  if (r.details) {
    out.push('');
    out.push(...r.details.replace(/\n$/, '').split('\n')); // verbatim: e.g. the connectivity matrix grid
  }
  if (r.artifacts) out.push('', p.dim(`artifacts: ${r.artifacts}`));
  for (const s of r.subtests ?? []) {
    if (s.status !== 'fail') continue;
    out.push('');
    out.push(...failureSection(s, width - 2, p, depth + 1).map((l) => (l ? '  ' + l : l)));
  }
  return out;
}

/** The final line: exactly `N passed, N failed, N skipped`. */
export function summaryLine(results: CheckResult[]): string {
  const s = summarize(results);
  return `${s.pass} passed, ${s.fail} failed, ${s.skip} skipped`;
}

export function renderPretty(report: RunReport, opts: PrettyOptions = {}): string {
  const width = Math.max(40, opts.width ?? process.stdout.columns ?? 100);
  const p = palette(opts.color ?? colorEnabled());
  const out: string[] = [];
  out.push(p.bold(`vxlab ${report.topology}`) + p.dim(`  run ${report.runId}  ${report.startedAt}  ${formatDuration(report.durationMs)}`));
  out.push('');
  out.push(...table(report.results, width, p));
  const failures = report.results.filter((r) => r.status === 'fail');
  for (const f of failures) {
    out.push('');
    out.push(...failureSection(f, width, p));
  }
  // grids of passing checks too (the connectivity matrix is worth seeing when it is all green)
  for (const r of report.results.filter((x) => x.status === 'pass' && x.details && x.details.split('\n').length <= 40)) {
    out.push('', p.dim(`── ${r.id}`), ...r.details!.replace(/\n$/, '').split('\n'));
  }
  if (report.artifactsDir) out.push('', p.dim(`artifacts: ${report.artifactsDir}`));
  out.push('');
  out.push(summaryLine(report.results));
  return out.join('\n') + '\n';
}

export const prettyReporter = (report: RunReport): string => renderPretty(report);

export interface ProgressOptions {
  stream?: OutStream;
  /** override TTY detection (default: stream.isTTY) */
  tty?: boolean;
  color?: boolean;
  total?: number;
}

/**
 * A progress indicator. On a TTY it keeps one line updated in place (`\r` + clear line);
 * otherwise it writes one plain line per event.
 */
export class Progress {
  private readonly stream: OutStream;
  private readonly tty: boolean;
  private readonly p: Palette;
  private total: number;
  private doneCount = 0;
  private counts = { pass: 0, fail: 0, skip: 0 };
  private lineShown = false;

  constructor(opts: ProgressOptions = {}) {
    this.stream = opts.stream ?? process.stdout;
    this.tty = opts.tty ?? Boolean(this.stream.isTTY);
    this.p = palette(opts.color ?? (this.tty && !process.env.NO_COLOR));
    this.total = opts.total ?? 0;
  }

  get isTTY(): boolean {
    return this.tty;
  }

  start(total: number, text = 'running checks'): void {
    this.total = total;
    this.doneCount = 0;
    this.counts = { pass: 0, fail: 0, skip: 0 };
    this.update(text);
  }

  private prefix(): string {
    return this.total ? `[${this.doneCount}/${this.total}]` : `[${this.doneCount}]`;
  }

  /** Show a free-form status (e.g. "creating namespaces"). */
  update(text: string): void {
    this.show(`${this.prefix()} ${oneLine(text)}`);
  }

  /** Record a finished check. */
  result(r: CheckResult): void {
    this.doneCount++;
    this.counts[r.status]++;
    if (this.tty) {
      const c = this.counts;
      const tally = `${this.p.green(String(c.pass))}/${this.p.red(String(c.fail))}/${this.p.yellow(String(c.skip))}`;
      const c0 = `${c.pass}/${c.fail}/${c.skip}`;
      this.show(`${this.prefix()} ${tally} ${statusLabel(r.status, this.p)} ${r.id}`, `${this.prefix()} ${c0} ${LABEL[r.status]} ${r.id}`);
    } else {
      this.show(`${this.prefix()} ${LABEL[r.status]} ${r.id} (${formatDuration(r.durationMs)})${r.status === 'fail' && r.message ? ` — ${oneLine(r.message)}` : ''}`);
    }
  }

  /** `line` may contain colors; `plain` is the same text without them (used when it must be cut). */
  private show(line: string, plain = line): void {
    if (!this.tty) {
      this.stream.write(plain + '\n');
      return;
    }
    const w = Math.max(20, (this.stream.columns ?? 80) - 1);
    this.stream.write('\r\x1b[2K' + (len(plain) > w ? truncate(plain, w) : line));
    this.lineShown = true;
  }

  /** Clear the progress line (TTY) so the summary can follow cleanly. */
  done(): void {
    if (this.tty && this.lineShown) this.stream.write('\r\x1b[2K');
    this.lineShown = false;
  }
}

// eslint-disable-next-line no-control-regex
export const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');
