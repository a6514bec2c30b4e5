// `vxlab validate`'s quick path: a good file is accepted without loading yaml or zod (about 250 ms of start-up on a
// slow machine: importing them and building the schema). bin/vxlab.js tries it first; it answers a number (the exit
// code, everything printed) or undefined: "not sure", having printed nothing — then the full command runs and writes
// what it always writes, error messages included. So the output is the same either way (test/unit/fast-validate.test.ts).
// Not sure: any option, a file outside the YAML subset yaml-lite reads, anything the compiled schema predicate
// (check.generated.ts, generated from the zod schema) rejects, any semantic error, overlay.cni (its checks load the
// CNI runtime), any exception at all.
import { existsSync, realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseLite } from '../topology/fast/yaml-lite.ts';
import { checkTopology } from '../topology/fast/check.generated.ts';
import { merge } from '../topology/merge.ts';
import { MAX_NODES, readBoundedFile } from '../topology/read.ts';
import type { Loaded } from '../topology/load.ts';
import type { Topology } from '../topology/schema.ts';
import { resolveStatic } from '../runner/resolve-static.ts';
import { okLine, validationOf } from './validate-line.ts';
import { survivePipeClose } from './exit.ts';

class NotSure extends Error {}

/** The merged raw topology of a file and what it extends, or undefined when not sure. */
function rawLite(file: string, chain: string[]): Record<string, unknown> | undefined {
  const doc = parseLite(readBoundedFile(file));
  if (!doc) return undefined;
  if (Array.isArray(doc.nodes) && doc.nodes.length > MAX_NODES) return undefined;
  let base: Record<string, unknown> = {};
  if (doc.extends !== undefined) {
    if (typeof doc.extends !== 'string') return undefined;
    const b = realpathSync(resolve(dirname(file), doc.extends));
    if (chain.includes(b)) return undefined;
    const r = rawLite(b, [...chain, b]);
    if (!r) return undefined;
    base = r;
  }
  const { extends: _e, ...own } = doc;
  return merge(base, own, [], undefined, [], new Map()) as Record<string, unknown>;
}

/** As loadTopology(file) for a good file within the subset; undefined when not sure. */
export function loadLite(file: string): Loaded | undefined {
  const abs = realpathSync(resolve(file));
  const raw = rawLite(abs, [abs]);
  if (!raw) return undefined;
  if (Array.isArray(raw.nodes) && raw.nodes.length > MAX_NODES) return undefined;
  if (!checkTopology(raw)) return undefined;
  return {
    topology: raw as Topology,
    file: abs,
    // only an error needs a location, and every error takes the full path
    locate: () => {
      throw new NotSure();
    },
  };
}

/**
 * What `vxlab validate ARGS` prints on stdout (one line per file) when every file is good and within the quick path;
 * undefined otherwise. Prints nothing: bin/vxlab.js writes the lines itself (straight to fd 1, without setting up
 * process.stdout: a pipe or a TTY stream costs a few milliseconds of start-up).
 */
export function quickValidate(argv: string[]): { code: number; lines: string[] } | undefined {
  if (!argv.length || argv.some((a) => a.startsWith('-'))) return undefined;
  const lines: string[] = [];
  for (const f of argv) {
    try {
      if (!existsSync(f)) return undefined;
      const loaded = loadLite(f);
      if (!loaded) return undefined;
      const t = resolveStatic(loaded, 'check');
      if (t.cni) return undefined;
      lines.push(okLine(f, validationOf(t)));
    } catch {
      return undefined;
    }
  }
  return { code: 0, lines };
}

/** `vxlab validate ARGS` when every file is good and within the quick path; undefined (nothing printed) otherwise. */
export function fastValidate(argv: string[]): number | undefined {
  const r = quickValidate(argv);
  if (!r) return undefined;
  survivePipeClose();
  for (const l of r.lines) console.log(l);
  return r.code;
}
