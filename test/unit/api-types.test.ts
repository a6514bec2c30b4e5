// The package's public surface, as a consumer sees it (dist/, through package.json "exports"; vitest's globalSetup
// has just built it): the types of an example consumer check, only the documented names are exported, internals
// are unreachable, and dist/ is never run stale.
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync, rmSync, mkdirSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { COMMANDS, SUMMARIES } from '../../harness/cli/main.ts';
// @ts-expect-error plain JavaScript module without types
import { distState, writeStamp } from '../../bin/dist-state.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const node = (code: string) => execa(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, reject: false });

describe('public API', () => {
  it('an example consumer type-checks against dist/*.d.ts (and what must not compile does not)', async () => {
    const r = await execa(process.execPath, [TSC, '-p', join(ROOT, 'test/types/tsconfig.json')], { reject: false });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
  }, 400_000); // a whole tsc run: ~50 s with the integration files running in parallel workers on 2 cores

  it("'vxlab' and 'vxlab/vitest' export exactly the documented names", async () => {
    const r = await node("const a = await import('vxlab'); console.log(JSON.stringify(Object.keys(a).sort()))");
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual(['CommandError', 'Lab', 'NotUpError', 'PreflightError', 'TopologyError', 'UsageError']);
    // 'vxlab/vitest' only loads inside vitest (it extends vitest's test and expect): import the compiled file here
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const b = await import(join(ROOT, pkg.exports['./vitest'].default));
    expect(Object.keys(b).sort()).toEqual(['Lab', 'labTest', 'test']);
  });

  it('internal modules are not reachable through the package', async () => {
    const r = await node("await import('vxlab/dist/harness/topology/load.js')");
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
  });

  it('the entry points need no tsx: compiled JavaScript only', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(Object.keys(pkg.dependencies)).not.toContain('tsx');
    expect(pkg.exports['.'].default).toMatch(/^\.\/dist\/.*\.js$/);
    expect(pkg.exports['./vitest'].default).toMatch(/^\.\/dist\/.*\.js$/);
    expect(pkg.scripts.prepare).toMatch(/build/);
  });
});

describe('CLI bundle (dist/cli, scripts/build.mjs)', () => {
  it('exists, and every file a bundled module finds next to its unbundled copy (import.meta.url) is there', () => {
    const dir = join(ROOT, 'dist/cli');
    const files = readdirSync(dir).filter((f) => f.endsWith('.js'));
    expect(files).toContain('main.js');
    const refs = new Set<string>();
    for (const f of files) {
      const text = readFileSync(join(dir, f), 'utf8');
      // the build rewrites each dist module's import.meta.url to new URL("<its dist path>", import.meta.url).href
      for (const m of text.matchAll(/new URL\("([^"]+)", import\.meta\.url\)\.href/g)) refs.add(m[1]!);
      expect(text, f).not.toMatch(/from "(zod|yaml|execa|tap-parser)"/); // inlined, not resolved at run time
    }
    // util/module.js (the package root), the userspace VTEP's launcher and the TCP probe are among them
    for (const r of ['../harness/util/module.js', '../harness/runtime/vtep-launch.js', '../harness/probe/tcp.js']) expect([...refs]).toContain(r);
    for (const r of refs) expect(existsSync(join(dir, r)), r).toBe(true);
  });
});

describe('CLI help summaries', () => {
  it('equal each command\'s own summary (so --help need not load every command)', async () => {
    for (const [name, load] of Object.entries(COMMANDS)) expect(SUMMARIES[name], name).toBe((await load()).summary);
  });
});

describe('dist freshness (bin/dist-state.js)', () => {
  function fakeCheckout(): string {
    const d = mkdtempSync(join(tmpdir(), 'vxlab-dist-'));
    mkdirSync(join(d, 'harness/cli'), { recursive: true });
    writeFileSync(join(d, 'harness/cli/x.ts'), '');
    writeFileSync(join(d, 'package.json'), '{}');
    return d;
  }
  it('missing, fresh, stale (naming the newer file), packaged', () => {
    const d = fakeCheckout();
    try {
      expect(distState(d)).toEqual({ state: 'missing' });
      mkdirSync(join(d, 'dist'));
      writeFileSync(join(d, 'dist/.build-stamp'), '');
      const past = new Date(Date.now() - 60_000);
      utimesSync(join(d, 'harness/cli/x.ts'), past, past);
      utimesSync(join(d, 'package.json'), past, past);
      expect(distState(d)).toEqual({ state: 'fresh' });
      const future = new Date(Date.now() + 60_000);
      utimesSync(join(d, 'harness/cli/x.ts'), future, future);
      expect(distState(d)).toEqual({ state: 'stale', newer: 'harness/cli/x.ts' });
      rmSync(join(d, 'harness'), { recursive: true });
      expect(distState(d)).toEqual({ state: 'packaged' });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('with the list of sources in the stamp (no directory reads): an edit in place, a new file, a removed file', () => {
    const d = fakeCheckout();
    try {
      mkdirSync(join(d, 'harness/cli/deep'), { recursive: true });
      writeFileSync(join(d, 'harness/cli/deep/y.ts'), '');
      mkdirSync(join(d, 'dist'));
      const past = new Date(Date.now() - 60_000);
      for (const p of ['harness', 'harness/cli', 'harness/cli/deep', 'harness/cli/x.ts', 'harness/cli/deep/y.ts', 'package.json']) utimesSync(join(d, p), past, past);
      writeStamp(d);
      const stamp = JSON.parse(readFileSync(join(d, 'dist/.build-stamp'), 'utf8'));
      expect(stamp.dirs).toStrictEqual(['harness', 'harness/cli', 'harness/cli/deep']);
      expect(stamp.files.sort()).toStrictEqual(['harness/cli/deep/y.ts', 'harness/cli/x.ts']);
      expect(distState(d)).toEqual({ state: 'fresh' });
      // an edit in place changes no directory: the listed file itself is newer
      const future = new Date(Date.now() + 60_000);
      utimesSync(join(d, 'harness/cli/deep/y.ts'), future, future);
      expect(distState(d)).toEqual({ state: 'stale', newer: 'harness/cli/deep/y.ts' });
      utimesSync(join(d, 'harness/cli/deep/y.ts'), past, past);
      expect(distState(d)).toEqual({ state: 'fresh' });
      // a new file (not in the list) makes its directory newer: the walk finds it
      writeFileSync(join(d, 'harness/cli/deep/z.ts'), '');
      utimesSync(join(d, 'harness/cli/deep/z.ts'), future, future);
      expect(distState(d)).toEqual({ state: 'stale', newer: 'harness/cli/deep/z.ts' });
      rmSync(join(d, 'harness/cli/deep/z.ts'));
      // a removed file: its directory is newer, the walk decides (nothing newer: fresh, as without a list)
      rmSync(join(d, 'harness/cli/x.ts'));
      expect(distState(d)).toEqual({ state: 'fresh' });
      // a stamp without a list (an older build): the walk, as before
      writeFileSync(join(d, 'harness/cli/deep/y.ts'), 'edited');
      writeFileSync(join(d, 'dist/.build-stamp'), '2026-01-01T00:00:00.000Z\n');
      utimesSync(join(d, 'dist/.build-stamp'), past, past);
      expect(distState(d)).toEqual({ state: 'stale', newer: 'harness/cli/deep/y.ts' });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('bin/vxlab.js never runs a stale dist/: it says so and runs the sources', async () => {
    // a copy of the checkout's bin/ + dist/ + sources with one source newer than the stamp
    const d = mkdtempSync(join(tmpdir(), 'vxlab-stale-'));
    try {
      for (const x of ['bin', 'dist', 'harness', 'suites', 'topologies', 'package.json']) cpSync(join(ROOT, x), join(d, x), { recursive: true, preserveTimestamps: true });
      const { symlinkSync } = await import('node:fs');
      symlinkSync(join(ROOT, 'node_modules'), join(d, 'node_modules'));
      const r1 = await execa(process.execPath, [join(d, 'bin/vxlab.js'), '--help'], { reject: false });
      expect(r1.stderr).toBe('');
      expect(r1.exitCode).toBe(0);
      // the compiled CLI says "validate" one way; change the source's summary and see the change (not dist's)
      const f = join(d, 'harness/cli/main.ts');
      writeFileSync(f, readFileSync(f, 'utf8').replace("validate: 'check a topology file", "validate: 'CHANGED check a topology file"));
      const r2 = await execa(process.execPath, [join(d, 'bin/vxlab.js'), '--help'], { reject: false });
      expect(r2.stderr).toMatch(/^vxlab: dist\/ is older than harness\/cli\/main\.ts; running the TypeScript sources through tsx/);
      expect(r2.stdout).toMatch(/validate +CHANGED check a topology file/);
      // validate's quick path too runs nothing of a stale dist/
      const r3 = await execa(process.execPath, [join(d, 'bin/vxlab.js'), 'validate', join(d, 'topologies/flannel-3node.yaml')], { reject: false });
      expect(r3.stderr).toMatch(/^vxlab: dist\/ is older than harness\/cli\/main\.ts; running the TypeScript sources through tsx/);
      expect(r3.stdout).toMatch(/flannel-3node\.yaml: ok \(flannel-3node: 3 nodes/);
      expect(r3.exitCode).toBe(0);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
