// `vxlab validate`'s quick path (harness/cli/fast-validate.ts) and `vxlab --help`'s static text: they must say exactly
// what the full CLI says. The quick path's two parts are held to the packages they replace:
//  - yaml-lite (parseLite) returns either undefined or exactly what `yaml` returns, and never accepts a text `yaml`
//    rejects: every shipped topology, every file of the malformed corpus, a JSON topology, and edge cases;
//  - the compiled predicate (check.generated.ts) accepts exactly what TopologySchema (zod) accepts: on the same inputs
//    and on thousands of deterministic mutations of them; and it is what `npm run schema` generates today.
// Then the whole path: good files print what `main(['validate', …])` prints, every malformed file leaves it to main.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseDocument, visit } from 'yaml';
import { parseLite } from '../../harness/topology/fast/yaml-lite.ts';
import { checkTopology } from '../../harness/topology/fast/check.generated.ts';
import { generateChecker } from '../../harness/topology/fast/gen-check.ts';
import { TopologySchema } from '../../harness/topology/schema.ts';
import { fastValidate } from '../../harness/cli/fast-validate.ts';
import { main, usage } from '../../harness/cli/main.ts';
import { synthTopology } from '../../bench/lib.ts';
import { tempTopology } from '../helpers/topo.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const walk = (d: string): string[] =>
  readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.yaml') ? [join(d, e.name)] : []));
const SHIPPED = walk(join(ROOT, 'topologies')).sort();
// the corpus proper (as malformed-corpus.test.ts reads it; bases/ holds the good files some of them extend)
const MALFORMED_DIR = join(ROOT, 'test/fixtures/malformed');
const MALFORMED = readdirSync(MALFORMED_DIR).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(MALFORMED_DIR, f));

/** What the full path reads: yaml's data, or undefined when yaml reports an error. */
function yamlData(text: string): unknown {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) return undefined;
  let aliases = false;
  visit(doc, { Alias: () => void (aliases = true) });
  if (aliases) return undefined; // the corpus has alias bombs; yaml-lite reads no aliases anyway
  try {
    return doc.toJS({ maxAliasCount: -1 });
  } catch {
    return undefined; // an unresolved alias: load.ts reports it
  }
}

function agreeYaml(text: string, label: string): 'lite' | 'full' {
  const lite = parseLite(text);
  if (lite === undefined) return 'full';
  const full = yamlData(text);
  expect(full, `${label}: yaml-lite accepted a text yaml rejects`).not.toBeUndefined();
  expect(lite, label).toStrictEqual(full);
  return 'lite';
}

/** Deterministic mutations of a topology object: values replaced by other types and edge values, keys removed/added. */
function* mutations(v: unknown, seed: number): Generator<unknown> {
  const edge: unknown[] = [null, true, 0, -1, 1.5, 65536, 1280, 4, 6, 'auto', '', 'x', 'a'.repeat(64), '10.0.0.0/8', 'fd00::/64', '02:00:00:00:00:01', [], [1], {}, { name: 'a' }, 'delete-fdb', 'pass', Infinity];
  const paths: (string | number)[][] = [];
  const collect = (x: unknown, p: (string | number)[]) => {
    paths.push(p);
    if (Array.isArray(x)) x.forEach((y, i) => collect(y, [...p, i]));
    else if (x && typeof x === 'object') for (const [k, y] of Object.entries(x)) collect(y, [...p, k]);
  };
  collect(v, []);
  if (paths.length > 400) return; // the 4,097-node file of the corpus: judged as it is, not mutated
  let r = seed;
  const rnd = (n: number) => ((r = (r * 1103515245 + 12345) & 0x7fffffff), r % n);
  for (const p of paths) {
    for (let k = 0; k < 2; k++) {
      const c = structuredClone(v) as any;
      if (!p.length) continue;
      let parent = c;
      for (const s of p.slice(0, -1)) parent = parent[s];
      const last = p[p.length - 1]!;
      const op = rnd(4);
      if (op === 0 && !Array.isArray(parent)) delete parent[last];
      else if (op === 1 && !Array.isArray(parent)) parent[`zz${rnd(3)}`] = edge[rnd(edge.length)];
      else parent[last] = edge[rnd(edge.length)];
      yield c;
    }
  }
}

describe('yaml-lite agrees with yaml', () => {
  it('on every shipped topology (all within the subset)', () => {
    for (const f of SHIPPED) expect(agreeYaml(readFileSync(f, 'utf8'), f), f).toBe('lite');
  });

  it('on every file of the malformed corpus (lite or not, never a different reading)', () => {
    let lite = 0;
    for (const f of MALFORMED) if (agreeYaml(readFileSync(f, 'utf8'), f) === 'lite') lite++;
    expect(lite).toBeGreaterThan(0); // the schema errors among them are read by yaml-lite too
  });

  it('on a JSON topology (the bench writes one)', () => {
    for (const n of [1, 3, 50]) expect(agreeYaml(JSON.stringify(synthTopology(n, 2), null, 2), `json ${n}`)).toBe('lite');
    expect(agreeYaml(JSON.stringify(synthTopology(3, 2)), 'compact json')).toBe('lite');
  });

  const cases: [string, 'lite' | 'full'][] = [
    ['a: 1\nb: x\n', 'lite'],
    ['a: -5\nb: 1.50\nc: 0\nd: true\ne: False\nf: ~\ng:\nh: null\n', 'lite'],
    ['a: on\nb: yes\nc: n\n', 'lite'], // YAML 1.2: strings
    ['a: 012\n', 'full'],
    ['a: 0x1f\n', 'full'],
    ['a: 1e3\n', 'full'],
    ['a: +1\n', 'full'],
    ['a: .inf\n', 'full'],
    ['a: -0\n', 'full'],
    ['a: 1_000\n', 'full'],
    ['a: 1.\n', 'full'],
    ['a: 10.244.0.0/16\nb: fd00::1\nc: 1:20\nd: 1.2.3\n', 'lite'],
    ['a: x # c\nb: "y # z"\nc: \'it\'\'s\'\nd: x#y\n', 'lite'],
    ['a: "\\u00e9\\n\\t\\"\\\\\\/"\n', 'lite'],
    ['a: "\\x41"\n', 'full'],
    ['a: "two\n  lines"\n', 'full'],
    ['a: two\n  lines\n', 'full'],
    ['a: |\n  block\n', 'full'],
    ['a: &x 1\nb: *x\n', 'full'],
    ['a: !!str 1\n', 'full'],
    ['---\na: 1\n', 'full'],
    ['a: 1\na: 2\n', 'full'],
    ['a: {b: 1, b: 2}\n', 'full'],
    ['a:\n- 1\n- 2\nb:\n  - x: 1\n    y: [a, "b", {c: d}]\n  -\n  - z\n', 'lite'],
    ['a:\n  - - 1\n', 'full'],
    ['a: [1, 2,]\n', 'full'],
    ['a: [1, , 2]\n', 'full'],
    ['a: [b: 1]\n', 'full'],
    ['a: {b}\n', 'full'],
    ['a: [--iface, eth0, ./x, "http://a:1"]\n', 'lite'],
    ['a: [x\n  , y]\n', 'lite'],
    ['a: [x,\ny]\n', 'full'],
    ['a: [\n  x,\n  y\n  ]\n', 'lite'],
    ['a: b: c\n', 'full'],
    ['a:  \n  b: 1\n', 'lite'],
    ['a: 1\n b: 2\n', 'full'],
    ['  a: 1\nb: 2\n', 'full'],
    ['a:\n    b: 1\n  c: 2\n', 'full'],
    ['"a b": 1\n\'c\': 2\n', 'lite'],
    ['1: a\n', 'full'],
    ['true: a\n', 'full'],
    ['__proto__: a\n', 'full'],
    ['a:\tb\n', 'full'],
    ['a: 1\r\nb: 2\r\n', 'full'],
    ['- a\n', 'full'], // not a mapping
    ['', 'full'],
    ['# only a comment\n', 'full'],
    ['a: [1, 2] # c\nb: {x: 1} x\n', 'full'],
    ['a: -\n', 'full'],
    ['a: -x\nb: "x": 1\n', 'full'],
    ['a: x: y\n', 'full'],
    ['{"a": 1, "b": [true, null, "x"], "c": {"d": -2.5}}', 'lite'],
    ['{"a":1,"a":2}', 'full'],
    ['{"a": 1e-7}', 'full'],
    ['a: "x"y\n', 'full'],
    ['a: [x]y\n', 'full'],
    ['a:\n- b\nc: d\n', 'lite'],
    ['a: 1\n- b\n', 'full'],
  ];
  it.each(cases)('%j → %s', (text, want) => {
    expect(agreeYaml(text, JSON.stringify(text))).toBe(want);
  });
});

describe('the compiled schema predicate agrees with zod', () => {
  it('check.generated.ts is what `npm run schema` generates from the schema today', () => {
    expect(readFileSync(join(ROOT, 'harness/topology/fast/check.generated.ts'), 'utf8')).toBe(generateChecker(TopologySchema));
  });

  it('on every shipped topology, every malformed file (as yaml reads them) and their mutations', () => {
    const inputs: unknown[] = [];
    for (const f of [...SHIPPED, ...MALFORMED]) {
      const d = yamlData(readFileSync(f, 'utf8'));
      if (d !== undefined) inputs.push(d);
    }
    for (const n of [1, 3]) inputs.push(synthTopology(n, 2), synthTopology(n, 1, 'ipv6-dual-stack'));
    let accepted = 0;
    let rejected = 0;
    const disagree: unknown[] = [];
    const judge = (v: unknown) => {
      const z = TopologySchema.safeParse(v).success;
      if (checkTopology(v) !== z) disagree.push(v);
      if (z) accepted++;
      else rejected++;
    };
    inputs.forEach((v, i) => {
      judge(v);
      for (const m of mutations(v, i + 1)) judge(m);
    });
    expect(disagree.slice(0, 3)).toStrictEqual([]);
    // both answers are well represented (a predicate that always says no would fail above, but say so plainly)
    expect(accepted).toBeGreaterThan(500);
    expect(rejected).toBeGreaterThan(500);
  });
});

describe('vxlab validate: the quick path says what the full path says', () => {
  afterEach(() => vi.restoreAllMocks());

  async function capture(fn: () => Promise<number | undefined> | number | undefined): Promise<{ rc: number | undefined; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
    vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
    const w = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    try {
      return { rc: await fn(), out: out.join('\n'), err: err.join('\n') };
    } finally {
      vi.restoreAllMocks();
      w.mockRestore();
    }
  }

  it('every shipped topology: the same lines and exit code (overlay.cni ones take the full path)', async () => {
    let quick = 0;
    for (const f of SHIPPED) {
      const rel = f.slice(ROOT.length + 1);
      const q = await capture(() => fastValidate([rel]));
      const full = await capture(() => main(['validate', rel]));
      expect(full.rc, rel).toBe(0);
      if (q.rc === undefined) {
        expect(q.out + q.err, rel).toBe('');
        expect(readFileSync(f, 'utf8'), `${rel} took the full path`).toMatch(/\bcni:/);
        continue;
      }
      quick++;
      expect(q, rel).toStrictEqual(full);
    }
    expect(quick).toBeGreaterThan(SHIPPED.length - 5);
    // several files at once, as the command takes them
    const two = SHIPPED.filter((f) => !/\bcni:/.test(readFileSync(f, 'utf8'))).slice(0, 2);
    expect(await capture(() => fastValidate(two))).toStrictEqual(await capture(() => main(['validate', ...two])));
  });

  it('a JSON topology as the bench writes it', async () => {
    const f = tempTopology(JSON.stringify(synthTopology(3, 2), null, 2));
    const q = await capture(() => fastValidate([f]));
    expect(q.rc).toBe(0);
    expect(q).toStrictEqual(await capture(() => main(['validate', f])));
  });

  it('every malformed file, a missing file, options and no file: nothing printed, left to the full path', async () => {
    for (const f of MALFORMED) {
      const q = await capture(() => fastValidate([f]));
      expect(q, f).toStrictEqual({ rc: undefined, out: '', err: '' });
    }
    const good = SHIPPED.find((f) => f.endsWith('flannel-3node.yaml'))!;
    for (const argv of [[], ['--help'], [good, '--json'], ['/nonexistent.yaml'], [good, MALFORMED[0]!]]) {
      expect(await capture(() => fastValidate(argv)), argv.join(' ')).toStrictEqual({ rc: undefined, out: '', err: '' });
    }
  });

  it('a semantic error (duplicate node) is left to the full path, which locates it', async () => {
    const f = tempTopology('name: x\nnodes:\n  - name: a\n  - name: a\n');
    expect(await capture(() => fastValidate([f]))).toStrictEqual({ rc: undefined, out: '', err: '' });
    expect((await capture(() => main(['validate', f]))).err).toMatch(/topo\.yaml:4:11: nodes\[1\]\.name: duplicate node name 'a'/);
  });
});

describe('vxlab --help: the static text bin/vxlab.js prints', () => {
  it('dist/cli/help.txt (written by npm run build) is usage() of the sources', async () => {
    const f = join(ROOT, 'dist/cli/help.txt');
    expect(existsSync(f), 'npm run build writes dist/cli/help.txt').toBe(true);
    expect(readFileSync(f, 'utf8')).toBe(`${await usage()}\n`);
  });
});
