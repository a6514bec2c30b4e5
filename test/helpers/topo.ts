// A topology fixture (vitest test.extend): a live topology per test, always torn down.
import { test as base } from 'vitest';
import { resolve } from 'node:path';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTopology } from '../../harness/topology/load.ts';
import { normalize } from '../../harness/topology/normalize.ts';
import type { ResolvedTopology } from '../../harness/topology/resolved.ts';
import { up, type Running } from '../../harness/runtime/lifecycle.ts';

let seq = 0;
export function testRunId(): string {
  return `t${process.pid.toString(36).slice(-3)}${(seq++).toString(36)}`;
}

export const TOPO = (name: string) => resolve(import.meta.dirname, '../../topologies', name);

export function resolveFile(file: string, runId = testRunId()): ResolvedTopology {
  const l = loadTopology(file);
  return normalize(l.topology, { runId, file: l.file });
}

/** Write a topology (YAML text) to a temp file and return its path. */
export function tempTopology(yaml: string, name = 'topo.yaml'): string {
  const dir = mkdtempSync(join(tmpdir(), 'vxlab-test-'));
  const f = join(dir, name);
  writeFileSync(f, yaml);
  return f;
}

export interface TopoFixtures {
  /** bring up a topology file; torn down after the test whatever happens */
  bringUp: (file: string) => Promise<Running>;
}

export const test = base.extend<TopoFixtures>({
  bringUp: async ({}, use) => {
    const live: Running[] = [];
    await use(async (file) => {
      const r = await up(resolveFile(file));
      live.push(r);
      return r;
    });
    for (const r of live.reverse()) await r.down();
  },
});
