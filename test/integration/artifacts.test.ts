// Failure artifacts (harness/report/artifacts.ts): a small failing run dumps every namespace (full `ip -d -j` state,
// bridge fdb, nft) and says so in index.json; over the cap, it dumps the shared namespaces and the nodes the failing
// check names first, and index.json lists what it left out. The cap is lowered by VXLAB_ARTIFACT_NAMESPACES so a
// 3-node topology shows it.
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { needsRoot } from '../helpers/root.ts';
import { vxNamespaces } from '../helpers/host.ts';
import { TOPO, testRunId } from '../helpers/topo.ts';

const BIN = resolve(import.meta.dirname, '../../bin/vxlab.js');
const NAME = 'bug-missing-route';

async function failingRun(env: Record<string, string> = {}, command: 'run' | 'repro' = 'run') {
  const id = testRunId();
  const out = mkdtempSync(join(tmpdir(), 'vx-art-'));
  // repro takes its run id from VXLAB_RUN_ID (it has no --run-id: several files, one id each)
  const r = await execa(process.execPath, [BIN, command, TOPO('bugs/missing-route.yaml'), '--suite', 'routes', ...(command === 'run' ? ['--run-id', id] : []), '--out', out, '--reporter', 'json'], { reject: false, env: { ...env, ...(command === 'repro' ? { VXLAB_RUN_ID: id } : {}) } });
  if (command === 'repro') expect(r.exitCode, r.stderr).toBe(0);
  const dir = join(out, `${NAME}-${id}`);
  expect(vxNamespaces(`vx-${id}-`)).toEqual([]);
  const results = JSON.parse(r.stdout).results as { id: string; status: string; message?: string }[];
  expect(results.find((x) => x.id === 'routes/remote-subnets')?.status, r.stderr).toBe('fail');
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  const files = readdirSync(join(dir, 'ns')).sort();
  return { id, out, dir, index, files, ns: (n: string) => `vx-${id}-${NAME}-${n}` };
}

describe.skipIf(needsRoot)('failure artifacts (root)', () => {
  it('a small run: every namespace, full ip -d state, index.json says nothing was left out', async () => {
    const a = await failingRun();
    try {
      const all = ['seg-rack1', 'node1', 'node1-pod1', 'node1-pod2', 'node2', 'node2-pod1', 'node2-pod2', 'node3', 'node3-pod1', 'node3-pod2'].map(a.ns);
      expect(a.files).toEqual(all.map((n) => `${n}.json`).sort());
      expect([...a.index.dumped].sort()).toEqual([...all].sort());
      expect(a.index.leftOut).toEqual([]);
      expect(a.index.leftOutReason).toBeUndefined();
      expect(a.index.files).toContain('resolved.json');
      const node1 = JSON.parse(readFileSync(join(a.dir, 'ns', `${a.ns('node1')}.json`), 'utf8'));
      expect(Object.keys(node1)).toEqual(['link', 'addr', 'route', 'neigh', 'fdb', 'nft']);
      // ip -d: the details a human debugging wants (qdisc, bridge port state), not just what the checks read
      const lo = node1.link.find((l: any) => l.ifname === 'lo');
      expect(lo.qdisc).toBeDefined();
      const port = node1.link.find((l: any) => l.linkinfo?.info_slave_kind === 'bridge');
      expect(port.linkinfo.info_slave_data.state).toBe('forwarding');
      // the fault is in the dump: node1 has no route to node2's pod subnet, and has node3's
      const dsts = node1.route.map((r: any) => r.dst);
      expect(dsts).toContain('10.244.3.0/24');
      expect(dsts).not.toContain('10.244.2.0/24');
      expect(node1.fdb.length).toBeGreaterThan(0);
    } finally {
      rmSync(a.out, { recursive: true, force: true });
    }
  });

  it('over the cap: the segment, then the named nodes; index.json lists the rest as left out', async () => {
    const a = await failingRun({ VXLAB_ARTIFACT_NAMESPACES: '5' });
    try {
      // routes/remote-subnets names node1 (missing route) and node2 (whose subnet it is)
      const dumped = ['seg-rack1', 'node1', 'node1-pod1', 'node1-pod2', 'node2'].map(a.ns);
      expect(a.index.cap).toBe(5);
      expect(a.index.dumped).toEqual(dumped);
      expect(a.files).toEqual(dumped.map((n) => `${n}.json`).sort());
      expect(a.index.leftOut).toEqual(['node2-pod1', 'node2-pod2', 'node3', 'node3-pod1', 'node3-pod2'].map(a.ns));
      expect(a.index.leftOutReason).toMatch(/^10 namespaces, more than the cap of 5 \(VXLAB_ARTIFACT_NAMESPACES\): .*nodes the failing checks name \(node1, node2\)/);
    } finally {
      rmSync(a.out, { recursive: true, force: true });
    }
  });

  it('vxlab repro where every expectation held: pcaps and resolved topology, no state dump (index.json says why); VXLAB_ARTIFACT_NAMESPACES=0 dumps every namespace (#14)', async () => {
    const a = await failingRun({}, 'repro');
    try {
      expect(a.files).toEqual([]);
      expect(a.index.dumped).toEqual([]);
      expect(a.index.cap).toBe(0);
      expect(a.index.leftOut).toHaveLength(10);
      expect(a.index.leftOutReason).toMatch(/^every expectation of the file held \(the failures are the ones it documents\): the namespaces' state was not dumped/);
      expect(a.index.files).toContain('resolved.json');
    } finally {
      rmSync(a.out, { recursive: true, force: true });
    }
    const b = await failingRun({ VXLAB_ARTIFACT_NAMESPACES: '0' }, 'repro');
    try {
      expect(b.index.dumped).toHaveLength(10);
      expect(b.index.leftOut).toEqual([]);
      expect(b.index.leftOutReason).toBeUndefined();
    } finally {
      rmSync(b.out, { recursive: true, force: true });
    }
  });
});
