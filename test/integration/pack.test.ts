// The package as another project gets it: `npm pack`, install the tarball with vitest into a fresh project (no tsx,
// no sources: dist/ only), run a consumer vitest suite there (Lab.up on an object topology, exec, test, a fault, the
// fixture and matchers, a userspace VTEP started from dist/), and a tsc-compiled consumer using `await using` on
// this Node; then check that nothing was left behind.
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { needsRoot } from '../helpers/root.ts';
import { vxNamespaces } from '../helpers/host.ts';
import { testRunId } from '../helpers/topo.ts';
import { statePath } from '../../harness/runtime/state.ts';
// @ts-expect-error plain JavaScript module without types
import { distState } from '../../bin/dist-state.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const VITEST = JSON.parse((await import('node:fs')).readFileSync(join(ROOT, 'node_modules/vitest/package.json'), 'utf8')).version as string;

const CONSUMER_TEST = `
import { expect, test } from 'vitest';
import { Lab, TopologyError, type TopologySpec } from 'vxlab';
import { labTest } from 'vxlab/vitest';

const RUN = process.env.PACK_RUN!;
const topo: TopologySpec = {
  name: 'pack',
  nodes: [{ name: 'node1', pods: 1 }, { name: 'node2', pods: 1, vtep: 'userspace' }, { name: 'node3', pods: 2 }],
};

test('Lab.up(object), exec, test, fault', async () => {
  await using lab = await Lab.up(topo, { runId: RUN + 'a' });
  const p = lab.pod('node3/pod2');
  const r = await lab.exec('node1/pod1', ['ping', '-c1', '-W2', p.ip]);
  expect(r.exitCode, r.stderr).toBe(0);
  const report = await lab.test({ suites: ['routes', 'connectivity'] });
  expect(report).toPass();
  expect(await lab.fault({ kind: 'delete-route', node: 'node1', peer: 'node3' })).toEqual({ applied: true });
  const after = await lab.test({ suites: ['routes'] });
  expect(after.results.find((x) => x.id === 'routes/remote-subnets')?.status).toBe('fail');
  expect(() => expect(after).toPass()).toThrow(/routes\\/remote-subnets/);
});

test('bad input is a TopologyError with the key path', async () => {
  const e = await Lab.up({ name: 'pack', nodes: [{ name: 'n1', pods: -1 }] }, { runId: RUN + 'x' }).catch((x) => x);
  expect(e).toBeInstanceOf(TopologyError);
  expect(e.key).toBe('nodes[0].pods');
});

labTest(topo, { runId: RUN + 'b' })('the fixture and matchers (kernel <-> userspace VTEP)', async ({ lab }) => {
  await expect(lab).toReach('node1/pod1', 'node2/pod1');
  await expect(lab).toReach('node2/pod1', 'node3/pod1');
  const stats = await lab.vtepStats('node2');
  expect(stats.counters.rxPackets).toBeGreaterThan(0);
});

// a test that times out inside \`await using\`: vitest abandons the body, so the disposal never runs; the lab is
// removed when the worker exits (Lab's exit hook). The outer test checks the host afterwards.
test.fails('await using in a test that times out', async () => {
  await using lab = await Lab.up({ name: 'pack', nodes: [{ name: 'node1' }, { name: 'node2' }] }, { runId: RUN + 't' });
  void lab;
  await new Promise((r) => setTimeout(r, 120_000));
}, 4000);
`;

const CONSUMER_CONFIG = `export default { test: { testTimeout: 60_000, hookTimeout: 60_000 } };
`;

const USING = `
import { Lab } from 'vxlab';
const runId = process.argv[2]!;
{
  await using lab = await Lab.up({ name: 'using', nodes: [{ name: 'a' }, { name: 'b' }] }, { runId });
  const r = await lab.exec('a/pod1', ['ping', '-c1', '-W2', lab.pod('b/pod1').ip]);
  console.log('inside', lab.state.status, r.exitCode);
}
const { existsSync } = await import('node:fs');
console.log('after', existsSync('/run/netns/vx-' + runId + '-using-a') ? 'present' : 'gone');
`;

describe.skipIf(needsRoot)('npm package', () => {
  it('packs, installs into a fresh project, and runs a consumer vitest suite compiled-only', async () => {
    const work = mkdtempSync(join(tmpdir(), 'vxlab-pack-'));
    const run = testRunId().slice(0, 6);
    const ids = [`${run}a`, `${run}b`, `${run}x`, `${run}u`, `${run}t`];
    try {
      // dist/ as vitest's globalSetup has just built it (fresh against the sources) is packed as is: without
      // --ignore-scripts npm pack runs `prepare`, a second whole build (tens of seconds of CPU on 2 cores) that also
      // removes and rewrites dist/cli/ under the CLI processes of the test files running in parallel
      expect(distState().state, 'dist/ is fresh (vitest globalSetup builds it)').toBe('fresh');
      const pack = await execa('npm', ['pack', '--ignore-scripts', '--pack-destination', work, '--loglevel=error'], { cwd: ROOT, reject: false });
      expect(pack.exitCode, pack.stderr).toBe(0);
      const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
      expect(tarball).toMatch(/^vxlab-.*\.tgz$/);

      const proj = join(work, 'consumer');
      mkdirSync(proj);
      writeFileSync(join(proj, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
      const inst = await execa('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', join(work, tarball), `vitest@${VITEST}`], { cwd: proj, reject: false });
      expect(inst.exitCode, inst.stderr).toBe(0);
      // compiled only: no TypeScript sources and no tsx in the installed package
      expect(existsSync(join(proj, 'node_modules/vxlab/dist/harness/api/index.js'))).toBe(true);
      expect(existsSync(join(proj, 'node_modules/vxlab/harness'))).toBe(false);
      expect(existsSync(join(proj, 'node_modules/tsx'))).toBe(false);
      // the CLI bundle (scripts/build.mjs) is in the package: bin/vxlab.js runs it
      expect(existsSync(join(proj, 'node_modules/vxlab/dist/cli/main.js'))).toBe(true);

      // the CLI from the package
      const help = await execa(join(proj, 'node_modules/.bin/vxlab'), ['validate', join(proj, 'node_modules/vxlab/topologies/flannel-3node.yaml')], { cwd: proj, reject: false });
      expect(help.stderr).toBe('');
      expect(help.stdout).toMatch(/ok \(flannel-3node: 3 nodes, 6 pods/);

      // a consumer vitest suite
      mkdirSync(join(proj, 'test'));
      writeFileSync(join(proj, 'test/lab.test.ts'), CONSUMER_TEST);
      // Lab.up takes a second or two and a suite run more: vitest's 5 s default is too short (README says so)
      writeFileSync(join(proj, 'vitest.config.js'), CONSUMER_CONFIG);
      const vt = await execa(join(proj, 'node_modules/.bin/vitest'), ['run', '--reporter=verbose'], {
        cwd: proj,
        reject: false,
        env: { PACK_RUN: run, CI: '', NO_COLOR: '1', FORCE_COLOR: '0' },
        timeout: 240_000,
      });
      expect(vt.exitCode, `${vt.stdout}\n${vt.stderr}`).toBe(0);
      expect(vt.stdout).toMatch(/Tests +3 passed \| 1 expected fail \(4\)/);

      // `await using` in a consumer compiled by tsc for Node 20 (downlevelled; Symbol.asyncDispose from Node)
      writeFileSync(join(proj, 'using.ts'), USING);
      writeFileSync(join(proj, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023', 'ESNext.Disposable'], types: ['node'], typeRoots: [join(ROOT, 'node_modules/@types')], strict: true, skipLibCheck: true, outDir: 'out' }, files: ['using.ts'] }));
      const tsc = await execa(process.execPath, [TSC, '-p', proj], { cwd: proj, reject: false });
      expect(tsc.stdout + tsc.stderr).toBe('');
      const u = await execa(process.execPath, [join(proj, 'out/using.js'), `${run}u`], { cwd: proj, reject: false });
      expect(u.stderr).toBe('');
      expect(u.stdout).toBe('inside up 0\nafter gone');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    // nothing left behind: namespaces, state files, VTEP processes, work dirs
    for (const id of ids) {
      expect(vxNamespaces(`vx-${id}-`), id).toEqual([]);
      expect(existsSync(statePath(id)), id).toBe(false);
      expect(readdirSync(tmpdir()).filter((f) => f.startsWith(`vx-${id}-`)), id).toEqual([]);
    }
    const ps = await execa('ps', ['-eo', 'args'], { reject: false });
    expect(ps.stdout.split('\n').filter((l) => ids.some((id) => l.includes(`vx-${id}-`)))).toEqual([]);
  }, 600_000);
});
