// The CLI on bad input: file:line:col, exit code 2, no stack trace. Needs no root and touches nothing.
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { resolve } from 'node:path';
import { tempTopology } from '../helpers/topo.ts';
import { reproOutDirs } from '../../harness/cli/repro.ts';

const BIN = resolve(import.meta.dirname, '../../bin/vxlab.js');
const vx = (...args: string[]) => execa(process.execPath, [BIN, ...args], { reject: false });

describe('vxlab CLI', () => {
  it('validate: malformed file → file:line:col, key, expectation; exit 2; no stack trace', async () => {
    const f = tempTopology('name: x\nnodes:\n  - name: a\n    pods: lots\n');
    const r = await vx('validate', f);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/topo\.yaml:4:11: nodes\[0\]\.pods: expected a pod count or a list of pod names/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('validate: semantic error → located, exit 2', async () => {
    const f = tempTopology('name: x\noverlay: {vni: 5}\nnodes:\n  - name: a\n  - name: a\n');
    const r = await vx('validate', f);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/topo\.yaml:5:11: nodes\[1\]\.name: duplicate node name 'a'/);
  });

  it('graph: no FILE, a bad file, an unknown format → exit 2 with the reason', async () => {
    expect((await vx('graph')).stderr).toBe('vxlab: graph: expected FILE');
    const f = tempTopology('name: x\nnodes:\n  - name: a\n    pods: lots\n');
    const r = await vx('graph', f);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/topo\.yaml:4:11: nodes\[0\]\.pods: expected a pod count or a list of pod names/);
    const bad = await vx('graph', f.replace(/topo\.yaml$/, 'nope.yaml'));
    expect([bad.exitCode, bad.stderr]).toEqual([2, `vxlab: topology file not found: ${f.replace(/topo\.yaml$/, 'nope.yaml')}`]);
  });

  it('up on a bad file fails before touching the host', async () => {
    const f = tempTopology('name: x\nnodes:\n  - name: a\n    ip: 1.2.3.4\n');
    const r = await vx('up', f);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/nodes\[0\]\.ip: node IP 1\.2\.3\.4 is outside segment rack1/);
  });

  it('every command has --help with exit codes', async () => {
    for (const c of ['validate', 'plan', 'up', 'status', 'exec', 'down', 'cleanup', 'run', 'test', 'repro']) {
      const r = await vx(c, '--help');
      expect(r.exitCode, c).toBe(0);
      expect(r.stdout, c).toMatch(/^Usage: vxlab /);
      expect(r.stdout, c).toMatch(/Exit codes:/);
    }
  });

  it('unknown command and unknown option are usage errors', async () => {
    expect((await vx('frobnicate')).exitCode).toBe(2);
    const r = await vx('plan', '--bogus', 'x.yaml');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/Unknown option '--bogus'/);
  });

  it('plan prints per-namespace commands without root', async () => {
    const r = await vx('plan', resolve(import.meta.dirname, '../../topologies/flannel-3node.yaml'), '--run-id', 'doc1');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/ip -n vx-doc1-flannel-3node-node1 route add 10\.244\.2\.0\/24 via 10\.244\.2\.0 dev flannel\.1 onlink/);
  });
});

describe('repro --out with several files', () => {
  it('one FILE writes to DIR; several write to DIR/<name>, a repeated name numbered', () => {
    expect(reproOutDirs(['a/x.yaml'], 'out')).toEqual(['out']);
    expect(reproOutDirs(['a/x.yaml', 'b/y.yaml'], undefined)).toEqual([undefined, undefined]);
    expect(reproOutDirs(['a/x.yaml', 'b/x.yaml', 'c/y.yml', 'x.yaml'], 'out')).toEqual(['out/x', 'out/x-2', 'out/y', 'out/x-3']);
  });
});
