// load: YAML → validated Topology, with `extends` merging and file:line:col on every error.
import { realpathSync } from 'node:fs';
import { dirname, resolve, relative } from 'node:path';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Alias, type Document, type Node as YNode } from 'yaml';
import type { z } from 'zod';
import { TopologySchema, FAULT_KINDS, FaultSchema, type Topology } from './schema.ts';
import { TopologyError, type Path, type SourceLoc, type TopologyIssue, pathKey } from './errors.ts';
import { isObj, merge, type Origins } from './merge.ts';
import { MAX_EXPANDED_YAML_NODES, MAX_NODES, readBoundedFile } from './read.ts';
export { locateSemantic } from './errors.ts';

interface Source {
  file: string;
  display: string;
  /** absent for a topology given as an object (Lab.up(object)): errors carry the key path only */
  doc?: Document;
  lc?: LineCounter;
}

const OBJECT_SOURCE: Source = { file: '', display: '(topology object)' };


export interface Loaded {
  topology: Topology;
  /** the file (absolute); undefined for a topology given as an object */
  file?: string;
  /** map a path in the merged topology to its source location (preferKey: the key's position, not the value's) */
  locate(path: Path, preferKey?: boolean): SourceLoc | undefined;
}

export { MAX_FILE_BYTES, MAX_NODES, MAX_EXPANDED_YAML_NODES, readBoundedFile } from './read.ts';


function displayName(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

/** `at`: where the file was named (the parent's extends key), so errors about the file itself point there. */
function parseSource(file: string, at?: { loc: SourceLoc; key: string }): Source {
  let text: string;
  try {
    text = readBoundedFile(file);
  } catch (e: any) {
    throw new TopologyError([{ loc: at?.loc, key: at?.key ?? '', message: `cannot read topology file ${displayName(file)}: ${e.message}` }]);
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const display = displayName(file);
  const src: Source = { file, display, doc, lc };
  const errs = [...doc.errors];
  if (errs.length) {
    throw new TopologyError(
      errs.map((e) => {
        const p = lc.linePos(e.pos[0]);
        return { loc: { file: display, line: p.line, col: p.col }, key: '', message: `invalid YAML: ${e.message.split('\n')[0]}` };
      }),
    );
  }
  if (!isMap(doc.contents)) {
    throw new TopologyError([{ loc: { file: display, line: 1, col: 1 }, key: '', message: 'expected a YAML mapping (name:, nodes:, …) at the top level' }]);
  }
  checkAliases(src);
  const nodes = nodeAt(src, ['nodes']);
  if (isSeq(nodes.node) && nodes.node.items.length > MAX_NODES) {
    throw new TopologyError([{ loc: locIn(src, ['nodes'], true), key: 'nodes', message: `${nodes.node.items.length} nodes; at most ${MAX_NODES} are accepted` }]);
  }
  return src;
}

function posOf(src: Source, n: { range?: [number, number, number] | null }): SourceLoc {
  const p = src.lc!.linePos(n.range?.[0] ?? 0);
  return { file: src.display, line: p.line, col: p.col };
}

/** Unresolved aliases and alias bombs, located at the alias, before the document is turned into data. */
function checkAliases(src: Source): void {
  const aliases: Alias[] = [];
  visit(src.doc!, { Alias: (_k, a) => void aliases.push(a) });
  if (!aliases.length) return;
  for (const a of aliases) {
    if (!a.resolve(src.doc!)) {
      throw new TopologyError([{ loc: posOf(src, a), key: '', message: `invalid YAML: alias *${a.source} has no anchor &${a.source} before it` }]);
    }
  }
  // expanded size of every node, aliases followed (memoized; a cycle counts as a bomb)
  const memo = new Map<unknown, number>();
  const onPath = new Set<unknown>();
  const sizeOf = (n: unknown): number => {
    if (isAlias(n)) n = n.resolve(src.doc!);
    if (n === null || typeof n !== 'object') return 1;
    const m = memo.get(n);
    if (m !== undefined) return m;
    if (onPath.has(n)) return Infinity;
    onPath.add(n);
    let total = 1;
    if (isMap(n) || isSeq(n)) {
      for (const it of n.items as unknown[]) {
        total += isPair(it) ? sizeOf(it.key) + sizeOf(it.value) : sizeOf(it);
        if (total > MAX_EXPANDED_YAML_NODES) break;
      }
    }
    onPath.delete(n);
    memo.set(n, total);
    return total;
  };
  for (const a of aliases) {
    const n = sizeOf(a);
    if (n > MAX_EXPANDED_YAML_NODES) {
      throw new TopologyError([{ loc: posOf(src, a), key: '', message: `invalid YAML: alias *${a.source} ${n === Infinity ? 'refers to itself' : `expands to more than ${MAX_EXPANDED_YAML_NODES} nodes`} (an alias bomb)` }]);
    }
  }
  // the whole document, in order: the alias at which the running total crosses the limit is the one to blame
  let total = 0;
  const walk = (n: unknown): Alias | undefined => {
    if (isAlias(n)) {
      total += sizeOf(n);
      return total > MAX_EXPANDED_YAML_NODES ? n : undefined;
    }
    total++;
    if (isMap(n) || isSeq(n)) {
      for (const it of n.items as unknown[]) {
        const hit = isPair(it) ? walk(it.key) ?? walk(it.value) : walk(it);
        if (hit) return hit;
      }
    }
    return undefined;
  };
  const culprit = walk(src.doc!.contents);
  if (culprit) {
    throw new TopologyError([{ loc: posOf(src, culprit), key: '', message: `invalid YAML: aliases expand the document to more than ${MAX_EXPANDED_YAML_NODES} nodes here (an alias bomb)` }]);
  }
}

function toData(src: Source): Record<string, unknown> {
  try {
    return src.doc!.toJS({ maxAliasCount: -1 }) as Record<string, unknown>;
  } catch (e: any) {
    // checkAliases caught what we know of; anything else is still reported at a location
    throw new TopologyError([{ loc: { file: src.display, line: 1, col: 1 }, key: '', message: `invalid YAML: ${String(e?.message ?? e).split('\n')[0]}` }]);
  }
}

function nodeAt(src: Source, path: Path): { node?: YNode; keyNode?: YNode } {
  let cur: unknown = src.doc?.contents;
  let keyNode: YNode | undefined;
  for (const k of path) {
    if (isMap(cur)) {
      const pair = cur.items.find((it) => isPair(it) && isScalar(it.key) && it.key.value === k);
      if (!pair) return { node: cur as YNode, keyNode };
      keyNode = pair.key as YNode;
      cur = pair.value;
    } else if (isSeq(cur) && typeof k === 'number') {
      keyNode = undefined;
      cur = cur.items[k];
    } else {
      return { node: cur as YNode, keyNode };
    }
  }
  return { node: cur as YNode, keyNode };
}

function locIn(src: Source, path: Path, preferKey?: boolean): SourceLoc;
function locIn(src: Source | undefined, path: Path, preferKey?: boolean): SourceLoc | undefined;
function locIn(src: Source | undefined, path: Path, preferKey = false): SourceLoc | undefined {
  if (!src?.doc || !src.lc) return undefined;
  const { node, keyNode } = nodeAt(src, path);
  const target = (preferKey && keyNode) || node || keyNode;
  const off = target?.range?.[0] ?? 0;
  const p = src.lc.linePos(off);
  return { file: src.display, line: p.line, col: p.col };
}

function loadRaw(file: string, chain: string[], origins: Origins<Source>, at?: { loc: SourceLoc; key: string }): { raw: Record<string, unknown>; src: Source } {
  const src = parseSource(file, at);
  const raw = toData(src);
  let merged: Record<string, unknown> = {};
  if (raw.extends !== undefined) {
    if (typeof raw.extends !== 'string') {
      throw new TopologyError([{ loc: locIn(src, ['extends']), key: 'extends', message: 'expected a path to another topology file' }]);
    }
    let base: string;
    try {
      base = realpathSync(resolve(dirname(file), raw.extends));
    } catch (e: any) {
      throw new TopologyError([{ loc: locIn(src, ['extends']), key: 'extends', message: `cannot read ${raw.extends} (resolved from ${displayName(dirname(file))}): ${e.code === 'ENOENT' ? 'no such file' : (e.code ?? e.message)}` }]);
    }
    if (chain.includes(base)) {
      const cyc = [...chain, base].map(displayName).join(' → ');
      throw new TopologyError([{ loc: locIn(src, ['extends']), key: 'extends', message: `cycle in extends: ${cyc}` }]);
    }
    merged = loadRaw(base, [...chain, base], origins, { loc: locIn(src, ['extends']), key: 'extends' }).raw;
  }
  const { extends: _e, ...own } = raw;
  const out = merge(merged, own, [], src, [], origins) as Record<string, unknown>;
  return { raw: out, src };
}

function describeIssue(iss: z.core.$ZodIssue, value: unknown): { message: string; path: Path; preferKey: boolean } {
  const path = iss.path as Path;
  switch (iss.code) {
    case 'unrecognized_keys': {
      let known = Object.keys(knownKeysAt(path));
      const fault = path[0] === 'faults' && isObj(value) && typeof value.kind === 'string' ? value.kind : undefined;
      if (!known.length && fault) known = faultKeys(fault);
      // delete-fdb: the one FDB entry per peer serves both pod families (they share one VXLAN device)
      const why = fault === 'delete-fdb' && iss.keys.includes('family') ? ' (delete-fdb has no family: the one FDB entry per peer carries both pod families; delete-neigh or delete-route with family breaks one)' : '';
      return {
        message: `unknown key '${iss.keys.join("', '")}'${why}${known.length ? `; expected one of: ${known.join(', ')}` : ''}`,
        path: [...path, iss.keys[0]!],
        preferKey: true,
      };
    }
    case 'invalid_union': {
      if ((iss as any).discriminator === 'kind' || path[0] === 'faults') {
        const atKind = path[path.length - 1] === 'kind';
        const kind = atKind ? value : isObj(value) ? value.kind : undefined;
        const base = atKind ? path : [...path, 'kind'];
        return {
          message: kind === undefined ? `missing kind; expected one of: ${FAULT_KINDS.join(', ')}` : `unknown fault kind '${String(kind)}'; expected one of: ${FAULT_KINDS.join(', ')}`,
          path: kind === undefined ? path.slice(0, atKind ? -1 : undefined) : base,
          preferKey: false,
        };
      }
      return { message: iss.message, path, preferKey: false };
    }
    case 'invalid_type':
      if (value === undefined) return { message: `missing; ${iss.message.replace(/^Invalid input: /, '')}`, path, preferKey: true };
      return { message: `${iss.message.replace(/^Invalid input: /, '')}${iss.message.includes('received') ? '' : `, got ${JSON.stringify(value)}`}`, path, preferKey: false };
    default:
      return { message: `${iss.message}${value !== undefined && typeof value !== 'object' ? ` (got ${JSON.stringify(value)})` : ''}`, path, preferKey: false };
  }
}

function getAt(obj: unknown, path: Path): unknown {
  let cur: any = obj;
  for (const k of path) cur = cur == null ? undefined : cur[k];
  return cur;
}

/** The keys a fault of this kind takes (faults[] is a union on kind, which knownKeysAt cannot walk). */
function faultKeys(kind: string): string[] {
  const opt = (FaultSchema as any).def.options.find((o: any) => o.def.shape.kind?.def?.values?.includes(kind));
  return opt ? Object.keys(opt.def.shape) : [];
}

function knownKeysAt(path: Path): Record<string, unknown> {
  // walk the zod schema along the path to list the keys allowed there
  let s: any = TopologySchema;
  for (const k of path) {
    while (s?.def?.type === 'optional' || s?.def?.type === 'default') s = s.def.innerType;
    if (typeof k === 'number') s = s?.def?.element;
    else if (s?.def?.type === 'object') s = s.def.shape[k];
    else if (s?.def?.type === 'record') s = s.def.valueType;
    else return {};
  }
  while (s?.def?.type === 'optional') s = s.def.innerType;
  return s?.def?.type === 'object' ? s.def.shape : {};
}

export function loadTopology(file: string): Loaded {
  let abs: string;
  try {
    abs = realpathSync(resolve(file));
  } catch {
    throw new TopologyError([{ key: '', message: `cannot read topology file ${file}: no such file` }]);
  }
  const origins: Origins<Source> = new Map();
  const { raw, src } = loadRaw(abs, [abs], origins);
  return validate(raw, src, origins, abs);
}

/**
 * A topology given as a plain object (Lab.up(object)): validated exactly like a file. Errors carry the key path
 * (and file:line:col for whatever came from an `extends` file, which resolves relative to baseDir).
 */
export function loadTopologyObject(obj: unknown, opts: { baseDir?: string } = {}): Loaded {
  if (!isObj(obj)) throw new TopologyError([{ key: '', message: 'expected a topology object (name:, nodes:, …)' }]);
  const origins: Origins<Source> = new Map();
  let merged: Record<string, unknown> = {};
  const own = structuredClone(obj) as Record<string, unknown>;
  if (own.extends !== undefined) {
    if (typeof own.extends !== 'string') throw new TopologyError([{ key: 'extends', message: 'expected a path to another topology file' }]);
    const dir = opts.baseDir ?? process.cwd();
    let base: string;
    try {
      base = realpathSync(resolve(dir, own.extends));
    } catch {
      throw new TopologyError([{ key: 'extends', message: `cannot read ${own.extends} (resolved from ${displayName(dir)})` }]);
    }
    merged = loadRaw(base, [base], origins).raw;
    delete own.extends;
  }
  const raw = merge(merged, own, [], OBJECT_SOURCE, [], origins) as Record<string, unknown>;
  return validate(raw, OBJECT_SOURCE, origins, undefined);
}

function validate(raw: Record<string, unknown>, src: Source, origins: Origins<Source>, file: string | undefined): Loaded {
  if (Array.isArray(raw.nodes) && raw.nodes.length > MAX_NODES) {
    throw new TopologyError([{ loc: locIn(src, ['nodes'], true), key: 'nodes', message: `${raw.nodes.length} nodes${file ? " (with extends)" : ""}; at most ${MAX_NODES} are accepted` }]);
  }
  const locate = (path: Path, preferKey = false): SourceLoc | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const o = origins.get(pathKey(path.slice(0, n)));
      if (o) return locIn(o.src, [...o.path, ...path.slice(n)], preferKey);
    }
    return locIn(src, path, preferKey);
  };
  const parsed = TopologySchema.safeParse(raw);
  if (!parsed.success) {
    const issues: TopologyIssue[] = parsed.error.issues.map((iss) => {
      const d = describeIssue(iss, getAt(raw, iss.path as Path));
      return { loc: locate(d.path, d.preferKey), key: pathKey(d.path), message: d.message };
    });
    throw new TopologyError(issues);
  }
  return { topology: parsed.data, file, locate };
}
