// Every command survives a closed stdout (`vxlab … | head`): no unhandled EPIPE, the command finishes (and tears
// down what it built), and `vxlab test --suite` does not fail expectations of suites it did not run.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { needsRoot } from '../helpers/root.ts';
import { TOPO, tempTopology, testRunId } from '../helpers/topo.ts';
import { vxNamespaces } from '../helpers/host.ts';
import { statePath } from '../../harness/runtime/state.ts';
import { run } from '../../harness/util/exec.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = resolve(ROOT, 'bin/vxlab.js');

/** Run the CLI with stdout read for one chunk and then closed, as `| head -1` does; resolve with exit code and stderr. */
function closedAfterFirstChunk(args: string[]): Promise<{ code: number | null; stderr: string; first: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let first = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.stdout.once('data', (d) => {
      first = String(d);
      p.stdout.destroy();
    });
    p.on('close', (code) => res({ code, stderr, first }));
  });
}

describe('a closed stdout', () => {
  it('validate of many files into a closed pipe exits with its own code, no unhandled EPIPE', async () => {
    const files = Array.from({ length: 40 }, () => TOPO('flannel-3node.yaml'));
    const r = await closedAfterFirstChunk(['validate', ...files]);
    expect(r.first).toMatch(/flannel-3node\.yaml: ok/);
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(r.code).toBe(0);
  });

  it.skipIf(needsRoot)('conformance | head: finishes, removes its namespaces, no unhandled EPIPE', async () => {
    const id = testRunId();
    const r = await closedAfterFirstChunk(['conformance', '--conflist', 'topologies/cni/bridge.conflist', '--bin-dir', '/usr/lib/cni', '--reporter', 'tap', '--run-id', id]);
    expect(r.first).toMatch(/TAP version 14/);
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled|at .*\.ts:\d+/);
    expect([0, 1]).toContain(r.code);
    expect(vxNamespaces(`vx-${id}-`)).toEqual([]);
    expect(existsSync(statePath(id))).toBe(false);
  }, 180_000);
});

describe.skipIf(needsRoot)('vxlab test --suite (root)', () => {
  it("expectations for suites that did not run are reported as not judged, not failed", async () => {
    const id = testRunId();
    const f = tempTopology(`extends: ${TOPO('flannel-3node.yaml')}\nname: sel\nexpect:\n  routes/fdb: fail\n  encapsulation: fail\n  connectivity: pass\n`);
    expect((await run([process.execPath, BIN, 'up', f, '--run-id', id], { reject: false })).exitCode).toBe(0);
    try {
      const r = await run([process.execPath, BIN, 'test', f, '--run-id', id, '--suite', 'connectivity'], { reject: false, timeoutMs: 120_000 });
      expect(r.stdout).toMatch(/routes\/fdb\s+\?\s+none\s+not judged: suite routes was not run/);
      expect(r.stdout).toMatch(/encapsulation\s+\?\s+none\s+not judged: suite encapsulation was not run/);
      // connectivity/isolation skips (one VNI): the suite-level pass still holds
      expect(r.stdout).toMatch(/connectivity\/isolation\s+pass\s+skip\s+holds/);
      expect(r.stdout).toMatch(/every expectation holds/);
      expect(r.exitCode).toBe(0);
    } finally {
      expect((await run([process.execPath, BIN, 'down', f, '--run-id', id], { reject: false })).exitCode).toBe(0);
    }
  }, 180_000);
});
