// What makes the CLI start quickly must not change what it does (npm run bench, row cli):
//  - hash-lite, which replaces node:crypto in validate's quick bundle, gives node:crypto's answers;
//  - the quick bundle as built (dist/cli/fast-validate.cjs: CommonJS, minified, its builtins replaced) answers exactly
//    what the sources' quickValidate answers, on every shipped topology and every malformed file;
//  - its code cache (bin/compile-cache.js) is used for the byte-identical bundle only;
//  - the runtimes' pure parts (harness/runtime/resolve.ts) are the runtimes' own;
//  - bin/vxlab.js's quick paths print what the full CLI prints, with its exit codes.
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createHash as nodeHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { createHash } from '../../harness/topology/fast/hash-lite.ts';
import { quickValidate } from '../../harness/cli/fast-validate.ts';
import { getRuntimeResolve, runtimeNames as resolveNames } from '../../harness/runtime/resolve.ts';
import { getRuntime, runtimeNames } from '../../harness/runtime/registry.ts';
import { tempTopology } from '../helpers/topo.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/vxlab.js');
const BUNDLE = join(ROOT, 'dist/cli/fast-validate.cjs');
const CACHE = join(ROOT, 'dist/cli/fast-validate.v8cache');
const { loadCached } = createRequire(import.meta.url)(join(ROOT, 'bin/compile-cache.js'));
const walk = (d: string): string[] =>
  readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.yaml') ? [join(d, e.name)] : []));
const SHIPPED = walk(join(ROOT, 'topologies')).sort();
const MALFORMED_DIR = join(ROOT, 'test/fixtures/malformed');
const MALFORMED = readdirSync(MALFORMED_DIR).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(MALFORMED_DIR, f));

describe('hash-lite (node:crypto in the quick bundle)', () => {
  it('SHA-1 and SHA-256 of strings: node:crypto\'s bytes, for every length across block boundaries and non-ASCII text', () => {
    const alphabet = ['a', 'Z', '0', '-', '/', 'é', '→', '😀', '\u0000', '\ud800'];
    let n = 0;
    for (let len = 0; len < 200; len++) {
      const s = Array.from({ length: len }, (_, i) => alphabet[(i * 7 + len) % (len % 4 ? 5 : alphabet.length)]).join('');
      for (const alg of ['sha1', 'sha256']) {
        expect(createHash(alg).update(s).digest('hex'), `${alg} of ${JSON.stringify(s)}`).toBe(nodeHash(alg).update(s).digest('hex'));
        n++;
      }
    }
    // as normalize uses it: several updates, a Buffer digest
    const a = createHash('sha256').update('vxlab/').update('topo/n1').digest();
    expect(Buffer.isBuffer(a)).toBe(true);
    expect(a.equals(nodeHash('sha256').update('vxlab/').update('topo/n1').digest())).toBe(true);
    expect(n).toBe(400);
  });

  it('anything else is node:crypto itself: other algorithms, Buffer input, encodings', () => {
    expect(createHash('md5').update('x').digest('hex')).toBe(nodeHash('md5').update('x').digest('hex'));
    expect(createHash('sha256').update(Buffer.from([1, 2, 3])).digest('base64')).toBe(nodeHash('sha256').update(Buffer.from([1, 2, 3])).digest('base64'));
    expect(createHash('sha1').update('ff00', 'hex').digest('hex')).toBe(nodeHash('sha1').update('ff00', 'hex').digest('hex'));
  });
});

describe('the quick bundle as built (dist/cli/fast-validate.cjs)', () => {
  it('answers what the sources answer: every shipped topology, every malformed file', () => {
    const { exports, script } = loadCached(BUNDLE, CACHE);
    expect(script.cachedDataRejected, 'the build wrote a code cache for this bundle and this Node').toBe(false);
    let quick = 0;
    for (const f of [...SHIPPED, ...MALFORMED]) {
      const want = quickValidate([f]);
      expect(exports.quickValidate([f]), f).toStrictEqual(want);
      if (want) quick++;
    }
    // most shipped files take the quick path (those with overlay.cni do not), in the bundle too
    expect(quick).toBeGreaterThan(SHIPPED.length - 5);
  });

  it('its code cache is used only for the byte-identical bundle; a changed bundle compiles without it and runs as it reads', () => {
    const d = mkdtempSync(join(tmpdir(), 'vxlab-cache-'));
    try {
      const b = join(d, 'fast-validate.cjs');
      const c = join(d, 'fast-validate.v8cache');
      copyFileSync(BUNDLE, b);
      copyFileSync(CACHE, c);
      expect(loadCached(b, c).script.cachedDataRejected).toBe(false);
      // the same length (all V8 itself checks of the source), one byte different: the cache is not offered at all
      const src = readFileSync(BUNDLE, 'latin1');
      const i = src.indexOf('ok (');
      expect(i).toBeGreaterThan(0);
      writeFileSync(b, `${src.slice(0, i)}OK (${src.slice(i + 4)}`, 'latin1');
      const changed = loadCached(b, c);
      expect(changed.script.cachedDataRejected).toBeUndefined();
      const f = SHIPPED.find((x) => x.endsWith('flannel-3node.yaml'))!;
      expect(changed.exports.quickValidate([f]).lines[0]).toMatch(/: OK \(flannel-3node/);
      // a truncated or foreign cache file: no cache
      writeFileSync(c, readFileSync(CACHE).subarray(0, 100));
      copyFileSync(BUNDLE, b);
      expect(loadCached(b, c).script.cachedDataRejected).toBeUndefined();
      writeFileSync(c, 'not a cache');
      expect(loadCached(b, c).script.cachedDataRejected).toBeUndefined();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('runtimes: the pure part normalize uses is each runtime\'s own', () => {
  it('same names, same functions', () => {
    expect(resolveNames()).toStrictEqual(runtimeNames());
    for (const name of runtimeNames()) {
      const rt = getRuntime(name);
      const rs = getRuntimeResolve(name);
      for (const k of ['validate', 'validateFamilies', 'reservedHost', 'decorate'] as const) expect(rt[k], `${name}.${k}`).toBe(rs[k]);
    }
    expect(() => getRuntimeResolve('nope')).toThrow("unknown runtime 'nope'; known: netns, docker, kind");
  });
});

describe('bin/vxlab.js quick paths print what the full CLI prints', () => {
  const full = { ...process.env, VXLAB_NO_BUNDLE: '1' };
  const run = (args: string[], env = process.env) => execa(process.execPath, [BIN, ...args], { reject: false, env });
  const same = async (args: string[]) => {
    const [q, f] = await Promise.all([run(args), run(args, full)]);
    expect({ out: q.stdout, err: q.stderr, code: q.exitCode }, args.join(' ')).toStrictEqual({ out: f.stdout, err: f.stderr, code: f.exitCode });
    return q;
  };
  it('--help, -h, help and no command', async () => {
    for (const a of [['--help'], ['-h'], ['help'], []]) await same(a);
    expect((await run([])).exitCode).toBe(2);
  });
  it('validate: good files (one, several), a JSON file, a malformed one, a semantic error, a missing file, an option', async () => {
    const good = SHIPPED.filter((f) => /\/(flannel-3node|calico-3node|ipv6-routed|dual-stack-3node)\.yaml$/.test(f));
    expect(good.length).toBe(4);
    for (const f of good) expect((await same(['validate', f])).exitCode).toBe(0);
    await same(['validate', ...good]);
    await same(['validate', tempTopology(JSON.stringify({ name: 'j', nodes: [{ name: 'a' }, { name: 'b' }] }))]);
    expect((await same(['validate', MALFORMED[0]!])).exitCode).toBe(2);
    expect((await same(['validate', tempTopology('name: x\nnodes:\n  - name: a\n  - name: a\n')])).exitCode).toBe(2);
    expect((await same(['validate', good[0]!, '/nonexistent.yaml'])).exitCode).toBe(2);
    await same(['validate', '--json', good[0]!]);
  });
});
