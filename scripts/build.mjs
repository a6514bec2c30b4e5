// npm run build (also `prepare`, so npm ci and npm pack build): tsc -p tsconfig.build.json into dist/, incremental,
// then the CLI bundle (dist/cli/, below), then dist/.build-stamp, which bin/dist-state.js compares with the sources.
// A failed build writes no stamp.
//
// The CLI bundle: esbuild bundles dist/harness/cli/main.js (the compiled CLI) into dist/cli/main.js plus one chunk per
// command (code splitting), with the pure-JavaScript dependencies inlined (zod, yaml, execa, tap-parser). Loading ~300
// small ES modules (resolution, stat, open, compile each) was most of `vxlab validate`'s start-up (npm run bench, row
// cli). bin/vxlab.js runs the bundle when it is there, dist/harness/cli/main.js otherwise (no esbuild: a slower start,
// the same behaviour). The library entry points (`exports`) stay the unbundled tsc output.
//   node scripts/build.mjs            build
//   node scripts/build.mjs --if-stale build only when dist/ is missing or older than the sources
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { distState, ROOT, writeStamp } from '../bin/dist-state.js';

/** Build dist/. Returns { ok, built, output }; never throws on a compile error (the caller decides). */
export async function build({ ifStale = false } = {}) {
  const before = distState();
  if (ifStale && (before.state === 'fresh' || before.state === 'packaged')) return { ok: true, built: false, output: '' };
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, encoding: 'utf8' });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`;
  if (r.status !== 0) return { ok: false, built: false, output, reason: before };
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const b = await bundleCli();
  if (!b.ok) return { ok: false, built: false, output: `${output}${b.output}`, reason: before };
  if (b.bundled) {
    // `vxlab --help` as static text (bin/vxlab.js prints it without loading the CLI); a unit test keeps it equal to
    // usage() (test/unit/fast-validate.test.ts)
    const { usage } = await import(`${pathToFileURL(join(ROOT, 'dist', 'harness', 'cli', 'main.js')).href}?t=${Date.now()}`);
    writeFileSync(HELP_TEXT, `${await usage()}\n`);
  }
  const cache = b.bundled ? codeCache() : '';
  writeStamp();
  return { ok: true, built: true, output: `${output}${cache}` };
}

/** Packages inlined into the CLI bundle: pure JavaScript, no files read relative to themselves. Every other dependency
 * (testcontainers, koffi, @viz-js/viz, …) stays an import resolved from node_modules, loaded only by the commands that
 * need it. */
export const BUNDLED = ['zod', 'yaml', 'execa', 'tap-parser'];
export const CLI_BUNDLE = join(ROOT, 'dist', 'cli', 'main.js');
/** `vxlab validate`'s quick path (harness/cli/fast-validate.ts), bundled on its own: no yaml, no zod. CommonJS, so that
 * bin/vxlab.js (CommonJS too) loads it without Node's ES module loader, compiled with FAST_VALIDATE_CACHE. */
export const FAST_VALIDATE_BUNDLE = join(ROOT, 'dist', 'cli', 'fast-validate.cjs');
/** Its V8 code cache (bin/compile-cache.js), made after validating the shipped topologies. */
export const FAST_VALIDATE_CACHE = join(ROOT, 'dist', 'cli', 'fast-validate.v8cache');
export const HELP_TEXT = join(ROOT, 'dist', 'cli', 'help.txt');

/** Write FAST_VALIDATE_CACHE in a plain child Node (the flags V8 checks the cache against are those of a plain `node`).
 * Without it the quick path compiles the bundle as usual: a note, not a failure. */
function codeCache() {
  const topologies = join(ROOT, 'topologies');
  const samples = readdirSync(topologies).filter((f) => f.endsWith('.yaml')).map((f) => join(topologies, f));
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'compile-cache.js'), FAST_VALIDATE_BUNDLE, FAST_VALIDATE_CACHE, ...samples], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  if (r.status === 0 && existsSync(FAST_VALIDATE_CACHE)) return '';
  rmSync(FAST_VALIDATE_CACHE, { force: true });
  return `build: no code cache for the quick path of validate (${(r.stderr || r.error || `exit ${r.status}`).toString().trim()}); it compiles as usual\n`;
}

/** Bundle dist/harness/cli/main.js into dist/cli/. Without esbuild: no bundle (bin/vxlab.js runs the tsc output). */
export async function bundleCli() {
  const out = join(ROOT, 'dist', 'cli');
  rmSync(out, { recursive: true, force: true });
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    return { ok: true, output: 'build: esbuild is not installed; no CLI bundle (the CLI runs the unbundled dist/, slower to start)\n' };
  }
  const pkg = createRequire(import.meta.url)(join(ROOT, 'package.json'));
  const deps = Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies, ...pkg.devDependencies }).filter((d) => !BUNDLED.includes(d));
  const distDir = join(ROOT, 'dist');
  // A module that finds files next to itself (import.meta.url: the userspace VTEP's entry, the TCP probe scripts, the
  // package root) must still find them next to its unbundled copy in dist/: each dist module's import.meta.url becomes
  // the URL of that copy, computed from the chunk's own location (so an installed package works wherever it lives).
  const keepMetaUrl = (base = 'import.meta.url') => ({
    name: 'vxlab-import-meta-url',
    setup(b) {
      b.onLoad({ filter: /\.js$/ }, async (args) => {
        if (!args.path.startsWith(distDir + sep)) return undefined;
        const { readFileSync } = await import('node:fs');
        const src = readFileSync(args.path, 'utf8');
        if (!src.includes('import.meta.url')) return undefined;
        const rel = relative(out, args.path).split(sep).join('/');
        return { contents: src.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, ${base}).href`), loader: 'js' };
      });
    },
  });
  // Two Node builtins whose loading (with the stream modules they pull in) cost the quick path more than its whole
  // work: node:crypto, for the SHA-1 / SHA-256 of names that normalize derives MACs from, is replaced by
  // harness/topology/fast/hash-lite.ts (those two hashes of strings done in JavaScript, anything else handed to
  // node:crypto; a unit test holds it to node:crypto), and node:net (isIPv6 of a string that is not IPv4) is loaded
  // on first use. In this bundle only.
  const lightBuiltins = {
    name: 'vxlab-light-builtins',
    setup(b) {
      b.onResolve({ filter: /^node:crypto$/ }, () => ({ path: join(distDir, 'harness', 'topology', 'fast', 'hash-lite.js') }));
      b.onResolve({ filter: /^node:net$/ }, (a) => (a.namespace === 'vxlab-lazy' ? { path: 'node:net', external: true } : { path: 'node:net', namespace: 'vxlab-lazy' }));
      b.onLoad({ filter: /.*/, namespace: 'vxlab-lazy' }, () => ({
        contents: ['isIP', 'isIPv4', 'isIPv6'].map((f) => `export function ${f}(s) { return require('node:net').${f}(s); }`).join('\n'),
        loader: 'js',
      }));
    },
  };
  try {
    const r = await esbuild.build({
      entryPoints: [join(distDir, 'harness', 'cli', 'main.js')],
      outdir: out,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      external: deps,
      // CommonJS inside an ES module bundle (yaml, tap-parser's dependencies) requires Node's builtins
      banner: { js: "import { createRequire as __vxlabRequire } from 'node:module'; const require = __vxlabRequire(import.meta.url);" },
      plugins: [keepMetaUrl()],
      logLevel: 'silent',
      legalComments: 'none',
    });
    // the quick path of `vxlab validate`: one file, nothing shared with the chunks above (no yaml, no zod); CommonJS,
    // where import.meta.url is the bundle's own file URL (__vxlabMetaUrl, from __filename)
    const f = await esbuild.build({
      entryPoints: [join(distDir, 'harness', 'cli', 'fast-validate.js')],
      outfile: FAST_VALIDATE_BUNDLE,
      bundle: true,
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      // execa is imported on first use only (util/exec.ts), which validation never reaches: not inlined here
      external: [...deps, ...BUNDLED.filter((d) => d !== 'yaml')],
      banner: { js: "const __vxlabMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
      plugins: [keepMetaUrl('__vxlabMetaUrl'), lightBuiltins],
      // less to read and compile: no comments, no indentation (names are kept: the quick path prints no stack trace,
      // but code may read a function's or class's name); and ASCII only, which V8 reads fastest
      minifyWhitespace: true,
      minifySyntax: true,
      charset: 'ascii',
      logLevel: 'silent',
      legalComments: 'none',
      metafile: true,
    });
    const heavy = [
      ...Object.keys(f.metafile.inputs).filter((i) => /node_modules\/(yaml|zod)\//.test(i)),
      ...Object.values(f.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path)).filter((i) => /^(yaml|zod)(\/|$)/.test(i)),
    ];
    if (heavy.length) throw new Error(`the quick path of validate must not include yaml or zod: ${heavy[0]}`);
    const warnings = [...r.warnings, ...f.warnings];
    return { ok: true, bundled: true, output: warnings.length ? `build: esbuild: ${warnings.map((w) => w.text).join('; ')}\n` : '' };
  } catch (e) {
    rmSync(out, { recursive: true, force: true });
    return { ok: false, output: `build: esbuild failed: ${e?.message ?? e}\n` };
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await build({ ifStale: process.argv.includes('--if-stale') });
  if (r.output) process.stdout.write(r.output);
  if (!r.ok) {
    console.error('build: tsc failed; dist/ is not up to date (bin/vxlab.js will run the sources through tsx)');
    process.exit(1);
  }
}
