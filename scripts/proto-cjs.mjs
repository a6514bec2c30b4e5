import * as esbuild from 'esbuild';
import { readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { createRequire } from 'node:module';
const ROOT = process.cwd();
const distDir = join(ROOT, 'dist');
const out = join(distDir, 'cli1');
const pkg = createRequire(import.meta.url)(join(ROOT, 'package.json'));
const BUNDLED = ['zod', 'yaml', 'execa', 'tap-parser'];
const deps = Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies, ...pkg.devDependencies }).filter((d) => !BUNDLED.includes(d));
const keepMetaUrl = { name: 'k', setup(b) { b.onLoad({ filter: /\.js$/ }, async (args) => {
  if (!args.path.startsWith(distDir + sep)) return undefined;
  const src = readFileSync(args.path, 'utf8');
  if (!src.includes('import.meta.url')) return undefined;
  const rel = relative(out, args.path).split(sep).join('/');
  return { contents: src.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, __vxlabMetaUrl).href`), loader: 'js' };
}); } };
const r = await esbuild.build({ entryPoints: [join(distDir, 'harness', 'cli', 'main.js')], outfile: join(out, 'main.cjs'), bundle: true, format: 'cjs', platform: 'node', target: 'node20', external: deps,
  banner: { js: "const __vxlabMetaUrl = require('node:url').pathToFileURL(__filename).href;" }, plugins: [keepMetaUrl], logLevel: 'warning', legalComments: 'none', define: { 'import.meta.url': '__vxlabMetaUrl' } });
console.log(r.warnings.length, 'warnings');
