// Every bug reproduction in topologies/bugs/ must reproduce: all expectations hold, none is missing, exit 0.
// The library is split over SHARDS test files (repro-bugs-N.test.ts) so vitest runs them in parallel workers; each
// file runs its share one after another. Every bug file lands in exactly one shard (round robin over the sorted names,
// so the split is deterministic); repro.test.ts checks the shards together cover the library.
import { describe, expect } from 'vitest';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { needsRoot } from '../helpers/root.ts';
import { test } from '../helpers/session.ts';

export const SHARDS = 5;
export const BUGS = resolve(import.meta.dirname, '../../topologies/bugs');
export const bugFiles = (): string[] => readdirSync(BUGS).filter((f) => f.endsWith('.yaml')).sort();
export const shardOf = (i: number): number => (i % SHARDS) + 1;

export function reproShard(shard: number): void {
  describe.skipIf(needsRoot)('vxlab repro on topologies/bugs (root)', () => {
    bugFiles().forEach((f, i) => {
      if (shardOf(i) !== shard) return;
      test(f, async ({ vxrun }) => {
        const r = await vxrun(resolve(BUGS, f), { useExpect: true });
        const broken = r.verdicts!.filter((v) => !v.holds).map((v) => `${v.id}: ${v.why}`);
        expect(broken).toEqual([]);
        expect(r.missing).toEqual([]);
        expect(r.exitCode).toBe(0);
      });
    });
  });
}
