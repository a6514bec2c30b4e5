// Every bug reproduction in topologies/bugs/ must reproduce (all expectations hold), and the mechanism must be able
// to fail: a deliberately wrong expectation makes `vxlab repro` exit non-zero with a clear diff.
import { describe, expect } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execa } from 'execa';
import { join, resolve } from 'node:path';
import { needsRoot } from '../helpers/root.ts';
import { test } from '../helpers/session.ts';
import { TOPO, tempTopology, testRunId } from '../helpers/topo.ts';
import { bugFiles, shardOf, SHARDS } from './repro-bugs.ts';

const BUGS = resolve(import.meta.dirname, '../../topologies/bugs');
const files = readdirSync(BUGS).filter((f) => f.endsWith('.yaml')).sort();
const BIN = resolve(import.meta.dirname, '../../bin/vxlab.js');

describe('bug library files are documented', () => {
  for (const f of files) {
    test(`${f} opens with a comment naming the upstream report, the root cause and what the expectation shows`, () => {
      const head = readFileSync(resolve(BUGS, f), 'utf8').split('\n').filter((l) => l.startsWith('#')).join('\n');
      if (f.endsWith('-fixed.yaml')) expect(head).toMatch(/Fixed sibling of \S+\.yaml/);
      else {
        expect(head).toMatch(/Upstream: /);
        expect(head).toMatch(/Root cause: /);
        expect(head).toMatch(/The expectation shows: /);
      }
    });
  }
  test('every bug has a fixed sibling', () => {
    const bugs = files.filter((f) => !f.endsWith('-fixed.yaml') && !f.startsWith('vtep-') && !f.includes('-df-set'));
    for (const b of bugs) expect(files, b).toContain(b.replace(/\.yaml$/, '-fixed.yaml'));
    expect(bugs.length).toBeGreaterThanOrEqual(8);
  });
  test('every bug file is run by exactly one repro-bugs-N.test.ts shard, and every shard file exists', () => {
    const shardFiles = readdirSync(import.meta.dirname).filter((f) => /^repro-bugs-\d+\.test\.ts$/.test(f)).sort();
    expect(shardFiles).toEqual(Array.from({ length: SHARDS }, (_, i) => `repro-bugs-${i + 1}.test.ts`).sort());
    for (const s of shardFiles) expect(readFileSync(resolve(import.meta.dirname, s), 'utf8')).toContain(`reproShard(${s.match(/\d+/)![0]});`);
    const shards = bugFiles().map((_, i) => shardOf(i));
    expect(shards.length).toBe(files.length);
    for (const s of shards) expect(s).toBeGreaterThanOrEqual(1), expect(s).toBeLessThanOrEqual(SHARDS);
  });
});

describe.skipIf(needsRoot)('vxlab repro on topologies/bugs (root)', () => {
  // the bug files themselves run in repro-bugs-*.test.ts, a few files per worker (test/integration/repro-bugs.ts)
  test('a wrong expectation makes repro exit non-zero with expected against observed', async () => {
    const f = tempTopology(`extends: ${resolve(BUGS, 'missing-fdb-entry.yaml')}\nname: wrong-expect\nexpect:\n  routes/fdb: pass\n  connectivity/full-mesh: { result: fail, message: "node3 -> node1" }\n`);
    const r = await execa(process.execPath, [BIN, 'repro', f], { reject: false, env: { VXLAB_RUN_ID: testRunId() } });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/routes\/fdb\s+pass\s+fail\s+DOES NOT HOLD: expected pass, observed fail/);
    expect(r.stdout).toMatch(/connectivity\/full-mesh\s+fail\s+fail\s+DOES NOT HOLD: message does not match \/node3 -> node1\//);
    expect(r.stdout).toMatch(/EXPECTATIONS DO NOT HOLD/);
  });

  test('--out with several FILEs: each file\'s reports in a directory of its own, none overwritten', async () => {
    const out = mkdtempSync(join(tmpdir(), 'vxlab-repro-out-'));
    try {
      const bug = resolve(BUGS, 'missing-route.yaml');
      const fdb = resolve(BUGS, 'missing-fdb-entry.yaml');
      const r = await execa(process.execPath, [BIN, 'repro', bug, fdb, '--suite', 'routes', '--out', out], { reject: false, env: { VXLAB_RUN_ID: testRunId() } });
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(readdirSync(out).sort()).toEqual(['missing-fdb-entry', 'missing-route']); // a repeated name: test/unit/cli.test.ts
      for (const [d, name] of [['missing-route', 'missing-route'], ['missing-fdb-entry', 'missing-fdb-entry']]) {
        const j = JSON.parse(readFileSync(join(out, d!, 'report.json'), 'utf8'));
        expect(JSON.stringify(j)).toContain(name!);
        expect(j.results.some((x: any) => String(x.id).startsWith('routes/'))).toBe(true);
        for (const f of ['report.tap', 'report.xml', 'report.html']) expect(existsSync(join(out, d!, f))).toBe(true);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  test('an expectation naming an unknown check id is an error, not a silent pass', async () => {
    const f = tempTopology(`extends: ${TOPO('flannel-3node.yaml')}\nname: bad-id\nexpect:\n  routes/fbd: fail\n`);
    const r = await execa(process.execPath, [BIN, 'repro', f], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/topo\.yaml:4:3: expect\.routes\/fbd: unknown check id or suite 'routes\/fbd'/);
  });
});
