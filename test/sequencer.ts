// The order test files start in (vitest.config.ts sequence.sequencer): heaviest first, so that the last files to
// finish are short ones and no worker sits alone on a long file at the end.
//
// vitest's own order is longest-first only where its results cache (node_modules/.vite/vitest/…/results.json) knows
// the files; on a fresh clone — CI — it has none and starts the largest files by byte size first, which put the five
// 4-line repro-bugs-N shards (minutes each under load) last. test/durations.json holds each file's measured wall time
// (seconds, a full `npm test`; refresh it with `node scripts/test-durations.mjs FILE.json` from a vitest JSON report).
// A file it does not list starts first (unknown, maybe long: vitest's own rule); groupOrder still comes first.
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const ROOT = resolve(import.meta.dirname, '..');
let table: Record<string, number> | undefined;

/** measured seconds per test file (path relative to the repository), or {} when the table cannot be read */
export function durations(): Record<string, number> {
  if (table) return table;
  try {
    table = JSON.parse(readFileSync(resolve(ROOT, 'test/durations.json'), 'utf8')).files as Record<string, number>;
  } catch {
    table = {};
  }
  return table;
}

export default class HeavyFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files); // vitest's order breaks ties
    const rank = new Map(base.map((f, i) => [f, i]));
    const d = durations();
    const weight = (f: TestSpecification) => d[relative(ROOT, f.moduleId)] ?? Infinity;
    return base.sort(
      (a, b) =>
        a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder ||
        (weight(b) === weight(a) ? 0 : weight(b) > weight(a) ? 1 : -1) ||
        rank.get(a)! - rank.get(b)!,
    );
  }
}
