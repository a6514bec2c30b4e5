// A `vxlab run` fixture for vitest (test.extend): runs a topology file through the suites in-process, exactly as the
// CLI does, and checks afterwards that the run left no namespace, process or state file behind.
import { test as base, expect } from 'vitest';
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { runSession, type SessionOptions, type SessionResult } from '../../harness/runner/session.ts';
import { statePath } from '../../harness/runtime/state.ts';
import { vxNamespaces } from './host.ts';
import { testRunId } from './topo.ts';

export type Vxrun = (file: string, o?: Partial<SessionOptions>) => Promise<SessionResult>;

export const test = base.extend<{ vxrun: Vxrun }>({
  vxrun: async ({}, use) => {
    const ids: string[] = [];
    await use(async (file, o = {}) => {
      const runId = testRunId();
      ids.push(runId);
      return runSession({ file: resolve(file), runId, reporter: 'json', quiet: true, outDir: resolve('artifacts', 'test'), ...o });
    });
    for (const id of ids) {
      expect(vxNamespaces(`vx-${id}-`), `namespaces of run ${id}`).toEqual([]);
      expect(existsSync(statePath(id)), `state file of run ${id}`).toBe(false);
    }
  },
});

export function byId(r: SessionResult): Record<string, string> {
  return Object.fromEntries(r.report.results.map((x) => [x.id, x.status]));
}

export function failed(r: SessionResult): string[] {
  return r.report.results.filter((x) => x.status === 'fail').map((x) => `${x.id}: ${x.message}`);
}
