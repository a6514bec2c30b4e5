'use strict';
// Load a CommonJS bundle with a V8 code cache (bin/vxlab.js: `vxlab validate`'s quick path, dist/cli/fast-validate.cjs).
// Node 20 has no module.enableCompileCache; a vm.Script with cachedData is the documented way. The cache is written by
// the build (scripts/build.mjs runs `node bin/compile-cache.js BUNDLE CACHE SAMPLE…`: it loads the bundle, runs its
// quickValidate over the sample files so that the functions validation needs are compiled too, and serialises them).
//
// V8 checks a cache against its own version and flags and rejects it otherwise (then the bundle compiles as usual),
// but it checks the source only by its length. So the cache file carries the exact bytes of the bundle it was made
// from, and is used only when the bundle on disk is byte-identical; anything unexpected (no cache, a truncated or
// foreign file, another Node) means no cache, never a different program.
//   CACHE = u32le header length | header JSON { v8, arch, source: bytes } | the bundle's bytes | V8's cached data
const { readFileSync, writeFileSync } = require('node:fs');
const { dirname, resolve } = require('node:path');
const { createRequire } = require('node:module');

function wrap(source) {
  return `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
}

/** The cached data in cacheFile for exactly these bundle bytes under this V8, or undefined. */
function cachedDataFor(cacheFile, source) {
  let c;
  try {
    c = readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  try {
    const hl = c.readUInt32LE(0);
    const h = JSON.parse(c.toString('utf8', 4, 4 + hl));
    if (h.v8 !== process.versions.v8 || h.arch !== process.arch || h.source !== source.length) return undefined;
    const at = 4 + hl;
    if (c.length <= at + source.length || !c.subarray(at, at + source.length).equals(source)) return undefined;
    return c.subarray(at + source.length);
  } catch {
    return undefined;
  }
}

/** require(file) for a CommonJS bundle, compiled with cacheFile's code cache when it matches. { exports, script }. */
function loadCached(file, cacheFile) {
  file = resolve(file);
  const source = readFileSync(file);
  const vm = require('node:vm');
  // an ASCII bundle (the build makes it so) becomes a one-byte string without UTF-8 decoding; the same string either way
  const text = require('node:buffer').isAscii(source) ? source.latin1Slice() : source.toString('utf8');
  const script = new vm.Script(wrap(text), { filename: file, cachedData: cachedDataFor(cacheFile, source) });
  const module = { exports: {}, filename: file };
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return { exports: module.exports, script };
}

/** Write cacheFile for file after running its quickValidate over the samples (their output is discarded). */
function makeCache(file, cacheFile, samples) {
  const source = readFileSync(file);
  const { exports, script } = loadCached(file, '/nonexistent');
  for (const s of samples) exports.quickValidate([s]);
  const header = Buffer.from(JSON.stringify({ v8: process.versions.v8, arch: process.arch, source: source.length }));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  writeFileSync(cacheFile, Buffer.concat([len, header, source, script.createCachedData()]));
}

exports.loadCached = loadCached;
exports.makeCache = makeCache;

if (require.main === module) {
  const [file, cacheFile, ...samples] = process.argv.slice(2);
  makeCache(file, cacheFile, samples);
}
