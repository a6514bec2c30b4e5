// Shared by conformance.test.ts and conformance-run.test.ts (split so that vitest runs them in parallel workers):
// run ids of the file's worker, the vxlab CLI, the conformance report, conflist files.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';
import { run } from '../../harness/util/exec.ts';
import { statePath } from '../../harness/runtime/state.ts';
import type { CheckResult, RunReport } from '../../harness/report/types.ts';
import { vxNamespaces } from './host.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/vxlab.js');
export const BROKEN = join(ROOT, 'test/fixtures/cni/broken');
export const SYS = '/usr/lib/cni';

let seq = 0;
const used: string[] = [];
export function runId(): string {
  const id = `c${process.pid.toString(36).slice(-4)}${(seq++).toString(36)}`;
  used.push(id);
  return id;
}

/** After each test (afterEach(runsGone)): every run the file started is gone: namespaces and state file. */
export async function runsGone(): Promise<void> {
  for (const id of used.splice(0)) {
    const left = vxNamespaces(`vx-${id}-`);
    const state = existsSync(statePath(id));
    if (left.length || state) await run(['node', BIN, 'down', '--run-id', id], { reject: false });
    expect(left, `namespaces of run ${id}`).toEqual([]);
    expect(state, `state file of run ${id}`).toBe(false);
  }
}

export async function vxlab(args: string[], timeoutMs = 180_000) {
  return run(['node', BIN, ...args], { reject: false, cwd: ROOT, timeoutMs });
}

export interface Out {
  exitCode: number;
  stderr: string;
  report: RunReport;
  byId: Map<string, CheckResult>;
}

export async function conformance(args: string[]): Promise<Out> {
  const id = runId();
  const r = await vxlab(['conformance', '--reporter', 'json', '--run-id', id, ...args]);
  let report: RunReport;
  try {
    report = JSON.parse(r.stdout) as RunReport;
  } catch {
    throw new Error(`conformance printed no JSON report (exit ${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
  }
  expect(report.runId).toBe(id);
  return { exitCode: r.exitCode, stderr: r.stderr, report, byId: new Map(report.results.map((x) => [x.id, x])) };
}

export const table = (rs: CheckResult[]) => rs.map((r) => `${r.status.padEnd(4)} ${r.id}: ${r.message ?? ''}`).join('\n');
export const failing = (o: Out) => o.report.results.filter((r) => r.status === 'fail');
/** the only skips a healthy 3-node single-segment run has */
// encapsulation/routing-mode: these topologies have no routing mode (every pair tunnelled, judged by the other checks)
export const EXPECTED_SKIPS = ['encapsulation/routing-mode', 'mtu/path-mtu', 'connectivity/isolation'];

export function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'vxlab-conf-'));
}
export function conflist(obj: unknown): string {
  const f = join(tmp(), `${(obj as { name?: string }).name ?? 'x'}.conflist`);
  writeFileSync(f, JSON.stringify(obj, null, 2));
  return f;
}
export const hostLocal = (subnet = '10.244.0.0/24') => ({ type: 'host-local', ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }] });

