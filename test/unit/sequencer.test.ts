// The start order of test files (test/sequencer.ts): groupOrder first, then heaviest first by test/durations.json,
// files the table does not know first of all; and the table lists only files that exist (a renamed file would
// otherwise silently lose its place).
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import HeavyFirst, { durations } from '../sequencer.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const spec = (f: string, groupOrder = 0, name = 'parallel') => ({ moduleId: resolve(ROOT, f), project: { name, config: { sequence: { groupOrder }, isolate: true } } });
const ctx = { cache: { getFileTestResults: () => undefined, getFileStats: () => ({ size: 1 }) }, config: { root: ROOT } };

describe('test file order', () => {
  it('groupOrder first, then unknown files, then heaviest first', async () => {
    const d = durations();
    const known = Object.keys(d).filter((f) => !f.includes('lifecycle'));
    const heavy = known[0]!;
    const light = known.at(-1)!;
    expect(d[heavy]).toBeGreaterThan(d[light]!);
    const files = [spec(light, 0, 'unit'), spec('test/integration/lifecycle.test.ts', 1, 'root-alone'), spec(heavy), spec('test/integration/not-yet-measured.test.ts')];
    const sorted = await new HeavyFirst(ctx as never).sort(files as never);
    expect(sorted.map((f: { moduleId: string }) => f.moduleId)).toEqual(
      ['test/integration/not-yet-measured.test.ts', heavy, light, 'test/integration/lifecycle.test.ts'].map((f) => resolve(ROOT, f)),
    );
  });

  it('test/durations.json names only files that exist, with a positive time each', () => {
    const d = durations();
    expect(Object.keys(d).length).toBeGreaterThan(50);
    for (const [f, s] of Object.entries(d)) {
      expect(existsSync(resolve(ROOT, f)), f).toBe(true);
      expect(s, f).toBeGreaterThan(0);
    }
  });
});
